// `maestro task next|claim|release|deps`: the task graph from the command line (§18).
import type { Command } from 'commander';
import type { TaskView } from '../domain/types.js';
import { CliError } from './client.js';
import { action, type Ctx } from './context.js';
import * as f from './format.js';

/*
 * The task graph from the command line (contract §18): what is ready next, claims, dependencies. Inside a spawned
 * terminal, $MAESTRO_SESSION_ID is the claiming session and $MAESTRO_PROJECT_ID the project.
 */

const path = (id: string) => `/api/tasks/${encodeURIComponent(id)}`;
const leaseOf = (value: string | undefined) => {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 60_000 || ms > 86_400_000) {
    throw new CliError(`--lease must be a whole number of milliseconds from 60000 to 86400000, not ${value}`);
  }
  return ms;
};
const nextLine = (verb: string) => (r: { task: TaskView | null }) => (r.task ? `${verb} ${f.taskGraphLine(r.task)}` : 'No ready task.');

async function changeDeps(ctx: Ctx, id: string, deps: string[], add: boolean) {
  const task = await ctx.client.get<TaskView>(path(id));
  const dependencies = add ? [...new Set([...task.dependencies, ...deps])] : task.dependencies.filter((d) => !deps.includes(d));
  const updated = await ctx.client.patch<TaskView>(path(id), { dependencies });
  ctx.out(
    updated,
    (t) =>
      `Task ${t.id} depends on: ${t.dependencies.join(', ') || 'nothing'}${t.blockedBy.length ? `\nBlocked by: ${t.blockedBy.join(', ')}` : ''}`,
  );
}

/** Adds `next`, `claim`, `release` and `deps` to the `task` command group. */
export function graphCommands(task: Command) {
  task
    .command('next')
    .description('Show the ready task to do next (highest priority, then oldest); with --claim, claim it for this session')
    .option('-p, --project-id <id>', 'project (default: $MAESTRO_PROJECT_ID)')
    .option('--claim', 'claim it atomically: no other agent gets the same task')
    .option('--session-id <id>', 'claim for this session (default: $MAESTRO_SESSION_ID)')
    .option('--lease <ms>', 'lease length in ms, 60000 to 86400000 (default 900000)')
    .option('-q, --quiet', 'print only the task ID (nothing when no task is ready)')
    .action(
      action(async (ctx, opts: { projectId?: string; claim?: boolean; sessionId?: string; lease?: string; quiet?: boolean }) => {
        const projectId = ctx.projectId(opts.projectId);
        const result = opts.claim
          ? await ctx.client.post<{ task: TaskView | null }>('/api/tasks/claim-next', {
              projectId,
              sessionId: ctx.sessionId(opts.sessionId, '--session-id'),
              leaseMs: leaseOf(opts.lease),
            })
          : await ctx.client.get<{ task: TaskView | null }>(`/api/tasks/next?projectId=${encodeURIComponent(projectId)}`);
        ctx.out(result, opts.quiet ? (r) => r.task?.id ?? '' : nextLine(opts.claim ? 'Claimed' : 'Next:'));
      }),
    );

  task
    .command('claim <id>')
    .description('Claim a task for this session (again: renew the lease)')
    .option('--session-id <id>', 'session (default: $MAESTRO_SESSION_ID)')
    .option('--lease <ms>', 'lease length in ms, 60000 to 86400000 (default 900000)')
    .action(
      action(async (ctx, id: string, opts: { sessionId?: string; lease?: string }) => {
        const claimed = await ctx.client.post<TaskView>(`${path(id)}/claim`, {
          sessionId: ctx.sessionId(opts.sessionId, '--session-id'),
          leaseMs: leaseOf(opts.lease),
        });
        ctx.out(claimed, (t) => `Claimed ${f.taskGraphLine(t)}`);
      }),
    );

  task
    .command('release <id>')
    .description('Give a claimed task back (as this session inside a session terminal, else as a person)')
    .option('--session-id <id>', 'release as this session (default: $MAESTRO_SESSION_ID)')
    .action(
      action(async (ctx, id: string, opts: { sessionId?: string }) => {
        const sessionId = opts.sessionId ?? ctx.env.MAESTRO_SESSION_ID;
        const released = await ctx.client.delete<TaskView>(`${path(id)}/claim`, sessionId ? { 'x-session-id': sessionId } : undefined);
        ctx.out(released, (t) => `Released ${f.taskGraphLine(t)}`);
      }),
    );

  const deps = task.command('deps').description('What a task depends on: it is ready once all of them are completed');
  deps
    .command('add <id> <dependsOn...>')
    .description('Make <id> wait for the given tasks')
    .action(action(async (ctx, id: string, ids: string[]) => changeDeps(ctx, id, ids, true)));
  deps
    .command('remove <id> <dependsOn...>')
    .description('Stop <id> waiting for the given tasks')
    .action(action(async (ctx, id: string, ids: string[]) => changeDeps(ctx, id, ids, false)));
  deps
    .command('list <id>')
    .description('The tasks <id> depends on, and which of them still block it')
    .action(
      action(async (ctx, id: string) => {
        const t = await ctx.client.get<TaskView>(path(id));
        const all = await ctx.client.get<TaskView[]>(`/api/tasks?projectId=${encodeURIComponent(t.projectId)}`);
        const list = all.filter((d) => t.dependencies.includes(d.id));
        ctx.out(list, (ds) =>
          ds.length
            ? ds.map((d) => `${f.taskLine(d)}${t.blockedBy.includes(d.id) ? '  <open>' : '  <done>'}`).join('\n')
            : 'No dependencies.',
        );
      }),
    );
}
