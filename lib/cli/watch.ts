// `maestro watch`: every event, one line each, filtered by project, session or attention.
import type { Command } from 'commander';
import { StreamRefused } from '../ws-refusal.js';
import { attentionLine } from './attention.js';
import { CliError, cliToken, EXIT, unauthorizedHint } from './client.js';
import { action, type Ctx } from './context.js';
import { type Envelope, followEvents } from './stream.js';

/** One line per event: `#seq type id`, readable and greppable. */
export const eventLine = (e: Envelope) => {
  const id = e.data?.id ?? e.data?.sessionId ?? e.data?.taskId ?? e.data?.name ?? '';
  return `#${e.seq}  ${new Date(e.timestamp).toISOString()}  ${e.type}  ${id}`.trimEnd();
};

/**
 * A refused event stream as the CLI's error: a 401 names the token to check (revoked, or wrong), a 403 the role.
 * Anything else is passed on as it is.
 */
export function streamFailure(ctx: Ctx, error: unknown): unknown {
  if (!(error instanceof StreamRefused)) return error;
  const hint = error.status === 401 ? `: ${unauthorizedHint(cliToken(ctx.env).variable)}` : '';
  return new CliError(`the event stream was refused (HTTP ${error.status}): ${error.message}${hint}`, EXIT.error, error.code);
}

/** What `maestro watch` says on stderr when its connection comes, goes, or cannot be made at all. */
const statusLine = (baseUrl: string, status: 'connected' | 'disconnected' | 'unreachable', reason?: string) =>
  status === 'unreachable'
    ? `maestro: cannot reach Maestro Server at ${baseUrl} (${reason}); retrying until it answers (Ctrl-C stops). Start it with: maestro serve\n`
    : status === 'disconnected'
      ? 'maestro: connection lost, reconnecting…\n'
      : '';

export function watchCommands(program: Command) {
  program
    .command('watch')
    .description('Print events as they happen; resumes after a lost connection without missing or repeating one')
    .option('--project <id>', 'only events of this project (and global ones)')
    .option('--since <seq>', 'first replay the logged events after this seq')
    .option('--attention', 'only attention changes (§21): which agent works, waits for you, or finished its turn')
    .action(
      action(async (ctx, opts: { project?: string; since?: string; attention?: boolean }) => {
        if (opts.since !== undefined && !/^\d+$/.test(opts.since)) throw new CliError('--since must be a non-negative integer');
        const follow = followEvents({
          baseUrl: ctx.client.baseUrl,
          token: ctx.client.token,
          since: opts.since === undefined ? undefined : Number(opts.since),
          // The program's global `--project` takes the flag wherever it is written, so this option is only for --help.
          query: { projectId: opts.project ?? ctx.globalProject },
          onEvent: (e) => {
            if (opts.attention && e.type !== 'session:attention') return;
            ctx.print(`${ctx.json ? JSON.stringify(e) : opts.attention ? attentionLine(e) : eventLine(e)}\n`);
          },
          onResync: ({ oldestSeq, latestSeq, since }) =>
            ctx.warn(
              since !== undefined && since > latestSeq
                ? `maestro: this server's events end at #${latestSeq}, before #${since} (another server, or one restored from a backup?); continuing from #${latestSeq}\n`
                : `maestro: events up to #${oldestSeq - 1} are no longer logged; continuing from #${latestSeq}\n`,
            ),
          onStatus: (status, reason) => ctx.warn(statusLine(ctx.client.baseUrl, status, reason)),
        });
        const stop = () => follow.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        ctx.signal?.addEventListener('abort', stop, { once: true });
        if (ctx.signal?.aborted) stop();
        try {
          await follow.done.catch((error) => {
            throw streamFailure(ctx, error);
          });
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          ctx.signal?.removeEventListener('abort', stop);
        }
      }),
    );
}
