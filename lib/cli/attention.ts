// `maestro attention`: the sessions whose agent waits for a person (contract §21), oldest first.
import type { Command } from 'commander';
import { FINAL_SESSION_STATUSES, type Session } from '../domain/types.js';
import { action } from './context.js';
import type { Envelope } from './stream.js';

const ago = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m`
      : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};

/** One line of `watch --attention`: `#seq time session state (source) reason`. */
export const attentionLine = (e: Envelope) => {
  const a = e.data?.attention ?? {};
  return `#${e.seq}  ${new Date(e.timestamp).toISOString()}  ${e.data?.sessionId}  ${a.state} (${a.source})${a.reason ? `  ${a.reason}` : ''}`;
};

export function attentionCommands(program: Command) {
  program
    .command('attention')
    .description('List the sessions whose agent waits for you (a permission, a question), oldest first, with the reason')
    .option('--all', 'every runner-managed session with its attention, not only those waiting')
    .action(
      action(async (ctx, opts: { all?: boolean }) => {
        const project = ctx.globalProject ? `&projectId=${encodeURIComponent(ctx.globalProject)}` : '';
        const query = opts.all ? `?active=true${project}` : `?attention=needs_input${project}`;
        const sessions = (await ctx.client.get<Session[]>(`/api/sessions${query}`))
          // An ended session keeps its last attention (§21), but nobody waits on it: the dashboard leaves it out too.
          .filter((s) => s.attention && !FINAL_SESSION_STATUSES.includes(s.status))
          .sort((a, b) => a.attention!.since - b.attention!.since);
        const now = Date.now();
        ctx.out(sessions, (list) =>
          list.length === 0
            ? opts.all
              ? 'No running agents.'
              : 'No agent is waiting for you.'
            : list
                .map((s) => {
                  const a = s.attention!;
                  return `${s.id}  ${a.state.padEnd(11)}  ${ago(now - a.since).padStart(6)}  ${s.name}${a.reason ? ` — ${a.reason}` : ''}`;
                })
                .join('\n'),
        );
      }),
    );
}
