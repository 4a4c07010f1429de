// `maestro queue`: a queue session's items, step by step (§8).
import type { Command } from 'commander';
import type { QueueItem } from '../domain/types.js';
import { CliError } from './client.js';
import { action } from './context.js';
import * as f from './format.js';
import { completedByHolder, holdsClaim } from './tasks.js';

export function queueCommands(program: Command) {
  const queue = program
    .command('queue')
    .description('Work through the task queue of a session spawned with --strategy queue')
    .option('--session-id <id>', 'session (default: $MAESTRO_SESSION_ID)');
  const path = (ctx: { sessionId(id?: string, flag?: string): string }, cmd: Command, op = '') =>
    `/api/sessions/${encodeURIComponent(ctx.sessionId(cmd.optsWithGlobals<{ sessionId?: string }>().sessionId, '--session-id'))}/queue${op}`;
  const nextLine = (r: { message: string }) => r.message;

  queue
    .command('status')
    .description('Counts and items')
    .action(
      action(async (ctx, _opts: unknown) => {
        const r = await ctx.client.get(path(ctx, queue));
        ctx.out(r, (x) => `${f.queueStats(x.stats)}\n${f.queueItems(x.queue.items)}`);
      }),
    );

  queue
    .command('list')
    .description('The items, in order')
    .action(
      action(async (ctx) => {
        ctx.out(await ctx.client.get<{ items: QueueItem[] }>(path(ctx, queue, '/items')), (r) => f.queueItems(r.items));
      }),
    );

  queue
    .command('top')
    .description('The next queued item, without starting it')
    .action(
      action(async (ctx) => {
        ctx.out(await ctx.client.get(path(ctx, queue, '/top')), (r) => (r.item ? `Next: ${r.item.taskId}` : r.message));
      }),
    );

  queue
    .command('start')
    .description('Start the next queued item; when the queue is empty, wait (polling) until one is pushed')
    .option('--no-wait', 'return at once when the queue is empty')
    .option('--poll <ms>', 'how often to look while waiting', '2000')
    .action(
      action(async (ctx, opts: { wait: boolean; poll: string }) => {
        if (!/^\d+$/.test(opts.poll) || Number(opts.poll) < 100) {
          throw new CliError(`--poll must be a whole number of milliseconds, at least 100, not ${opts.poll}`);
        }
        for (let waited = false; ; waited = true) {
          const r = await ctx.client.post(path(ctx, queue, '/start'));
          if (r.item || !opts.wait) return ctx.out(r, nextLine);
          // Said once, on stderr: a wait that prints nothing looks like a hang to the person or agent running it.
          if (!waited) ctx.warn(`maestro: the queue is empty; waiting for a task to be pushed (--no-wait returns at once)\n`);
          await new Promise((resolve) => setTimeout(resolve, Number(opts.poll)));
        }
      }),
    );

  queue
    .command('complete')
    .description('Complete the item being processed')
    .action(
      action(async (ctx) => {
        const sessionId = ctx.sessionId(queue.optsWithGlobals<{ sessionId?: string }>().sessionId, '--session-id');
        const r = await ctx.client.post<{ completedItem: QueueItem; message: string }>(path(ctx, queue, '/complete'));
        // The queue sets only the task's sessionStatus (§8). A session spawned on a runner holds its tasks' claims
        // (§24.7): as `maestro task complete`, the holder completing one completes the task, so that its dependents
        // unblock and it does not go back to todo, ready to be done again, once the session ends.
        const taskId = r.completedItem.taskId;
        if (await holdsClaim(ctx.client, sessionId, taskId)) {
          await ctx.client.patch(`/api/tasks/${encodeURIComponent(taskId)}`, completedByHolder(sessionId));
        }
        ctx.out(r, nextLine);
      }),
    );

  queue
    .command('fail')
    .description('Fail the item being processed')
    .option('-r, --reason <text>', 'why it failed')
    .action(
      action(async (ctx, opts: { reason?: string }) => {
        ctx.out(await ctx.client.post(path(ctx, queue, '/fail'), { reason: opts.reason }), nextLine);
      }),
    );

  queue
    .command('skip')
    .description('Skip the item being processed, or the next queued one')
    .action(
      action(async (ctx) => {
        ctx.out(await ctx.client.post(path(ctx, queue, '/skip')), nextLine);
      }),
    );

  queue
    .command('push <taskId>')
    .description('Append a task to the queue')
    .action(
      action(async (ctx, taskId: string) => {
        ctx.out(await ctx.client.post(path(ctx, queue, '/push'), { taskId }), (r) => `Queued ${r.item.taskId}`);
      }),
    );
}
