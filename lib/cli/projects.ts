// `maestro project`: create, list, show and delete projects.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
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
    .option('-d, --working-dir <path>', 'directory of the code the agents work in (a relative path or ~ is resolved here)')
    .option('--description <text>', 'what the project is')
    .action(
      action(async (ctx, name: string, opts: { workingDir?: string; description?: string }) => {
        const workingDir = opts.workingDir && absoluteDir(opts.workingDir, ctx.env.HOME || homedir());
        const created = await ctx.client.post<Project>('/api/projects', { name, ...opts, ...(workingDir && { workingDir }) });
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

/**
 * The server stores a working directory as given and a runner starts agents in it, so `-d .` would start them in the
 * runner's own directory. A path is resolved where the person typed it: `~` (left as it is by the shell in
 * `--working-dir=~/x`) is the home directory, a relative path is taken from the current one.
 */
function absoluteDir(path: string, home: string): string {
  if (path === '~' || path.startsWith('~/')) return join(home, path.slice(1));
  return isAbsolute(path) ? path : resolve(path);
}
