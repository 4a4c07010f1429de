// `maestro project`: create, list, show and delete projects.
import type { Command } from 'commander';
import type { Project } from '../domain/types.js';
import { action } from './context.js';
import * as f from './format.js';

export function projectCommands(program: Command) {
  const project = program.command('project').alias('projects').description('Manage projects');

  project
    .command('list')
    .description('List projects')
    .action(
      action(async (ctx) => {
        ctx.out(await ctx.client.get<Project[]>('/api/projects'), f.projectList);
      }),
    );

  project
    .command('create <name>')
    .description('Create a project')
    .option('-d, --working-dir <path>', 'absolute path of the code the agents work in')
    .option('--description <text>', 'what the project is')
    .action(
      action(async (ctx, name: string, opts: { workingDir?: string; description?: string }) => {
        const created = await ctx.client.post<Project>('/api/projects', { name, ...opts });
        ctx.out(created, (p) => `Created project ${p.id}\n${f.projectDetails(p)}`);
      }),
    );

  project
    .command('get <id>')
    .description('Show a project')
    .action(
      action(async (ctx, id: string) => {
        ctx.out(await ctx.client.get<Project>(`/api/projects/${encodeURIComponent(id)}`), f.projectDetails);
      }),
    );

  project
    .command('delete <id>')
    .description('Delete a project (refused while it has tasks or sessions)')
    .action(
      action(async (ctx, id: string) => {
        ctx.out(await ctx.client.delete(`/api/projects/${encodeURIComponent(id)}`), () => `Deleted project ${id}`);
      }),
    );
}
