// The original CLI's commands (`report`, `whoami`, `status`, `commands`, `track-file`), kept for agents and prompts that use them.
import { type Command, Option } from 'commander';
import { type Session, TIMELINE_TYPES } from '../domain/types.js';
import { CliError } from './client.js';
import { action, type Ctx } from './context.js';
import { currentTaskId, reportAsSession } from './tasks.js';

/*
 * Commands of the original `maestro` CLI that agents' prompts and hooks call (contract §13.7, §15.7).
 */

const REPORT_KINDS = {
  progress: 'progress',
  blocked: 'task_blocked',
  'needs-input': 'needs_input',
  error: 'error',
  complete: 'task_completed',
} as const;
type ReportKind = keyof typeof REPORT_KINDS;
const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A hook: does its work, but a failure is only a warning and the exit code stays 0 (§13.7). */
export function hook<A extends unknown[]>(name: string, fn: (ctx: Ctx, ...args: A) => Promise<void>) {
  return action(async (ctx: Ctx, ...args: A) => {
    try {
      await fn(ctx, ...args);
    } catch (error) {
      ctx.warn(`maestro ${name}: warning: ${(error as Error).message}\n`);
    }
  });
}

async function report(
  ctx: Ctx,
  kind: ReportKind | undefined,
  message: string,
  opts: { task?: string; taskId?: string; sessionId?: string; type?: string },
) {
  const sessionId = ctx.sessionId(opts.sessionId, '--session-id');
  // --task a,b: each of them; -t: that one; else the queue's processing task (§18.4), else the session's first task.
  const first = (await currentTaskId(ctx)) ?? (ctx.env.MAESTRO_TASK_IDS ? list(ctx.env.MAESTRO_TASK_IDS)[0] : undefined);
  const taskIds = opts.task ? list(opts.task) : opts.taskId ? [opts.taskId] : first ? [first] : [];
  const type = kind ? REPORT_KINDS[kind] : (opts.type ?? 'progress');
  const path = `/api/sessions/${encodeURIComponent(sessionId)}/timeline`;
  let session: Session | undefined;
  for (const taskId of taskIds.length ? taskIds : [undefined]) {
    session = await ctx.client.post<Session>(path, { type, message, ...(taskId && { taskId }) });
  }
  const sessionStatus =
    kind === 'complete' ? 'completed' : kind === 'blocked' ? 'blocked' : kind === 'needs-input' ? 'needs_input' : undefined;
  // As `maestro task complete`: reporting complete a task this session holds the claim of completes it (§18.2).
  if (sessionStatus) for (const taskId of taskIds) await reportAsSession(ctx.client, sessionId, taskId, sessionStatus);
  // `report x` and `report progress x` say the same: the kind as the command names it, then the message.
  const label = kind ?? (Object.keys(REPORT_KINDS) as ReportKind[]).find((k) => REPORT_KINDS[k] === type) ?? type;
  const about = taskIds.length ? ` on ${taskIds.join(', ')}` : '';
  ctx.out(session?.timeline.at(-1), () => `Reported ${label}${about}: ${message}`);
}

export function compatCommands(program: Command) {
  program
    .command('report <kind> [message...]')
    .description(
      "Report to this session's timeline: report <progress|blocked|needs-input|error|complete> <message>; a lone message is progress (or --type)",
    )
    .option('--task <ids>', 'comma-separated task IDs it is about')
    .option('-t, --task-id <id>', "the task it is about (default: the queue's current task, else the first of $MAESTRO_TASK_IDS)")
    .addOption(new Option('--type <type>', 'timeline type of a lone message').choices(TIMELINE_TYPES))
    .option('--session-id <id>', 'session (default: $MAESTRO_SESSION_ID)')
    .action(
      action(async (ctx, kind: string, words: string[], opts: { task?: string; taskId?: string; sessionId?: string; type?: string }) => {
        const known = kind in REPORT_KINDS && words.length > 0;
        await report(ctx, known ? (kind as ReportKind) : undefined, known ? words.join(' ') : [kind, ...words].join(' '), opts);
      }),
    );

  for (const kind of Object.keys(REPORT_KINDS) as ReportKind[]) {
    program
      .command(`update:${kind} <message...>`)
      .description(`Same as: maestro report ${kind} <message>`)
      .option(
        '--task <ids>',
        "comma-separated task IDs it is about (default: the queue's current task, else the first of $MAESTRO_TASK_IDS)",
      )
      .option('--session-id <id>', 'session (default: $MAESTRO_SESSION_ID)')
      .action(
        action(async (ctx, words: string[], opts: { task?: string; sessionId?: string }) => report(ctx, kind, words.join(' '), opts)),
      );
  }

  program
    .command('whoami')
    .description('Who this terminal is: session, project, tasks, strategy and server')
    .action(
      action(async (ctx) => {
        const info = {
          server: ctx.client.baseUrl,
          sessionId: ctx.env.MAESTRO_SESSION_ID ?? null,
          projectId: ctx.env.MAESTRO_PROJECT_ID ?? null,
          taskIds: ctx.env.MAESTRO_TASK_IDS ? list(ctx.env.MAESTRO_TASK_IDS) : [],
          strategy: ctx.env.MAESTRO_STRATEGY ?? null,
          agent: ctx.env.MAESTRO_AGENT ?? null,
          manifestPath: ctx.env.MAESTRO_MANIFEST_PATH ?? null,
        };
        ctx.out(info, (i) =>
          i.sessionId
            ? [
                `Session:  ${i.sessionId}`,
                `Project:  ${i.projectId ?? '-'}`,
                `Tasks:    ${i.taskIds.join(', ') || '-'}`,
                `Strategy: ${i.strategy ?? '-'}`,
                `Server:   ${i.server}`,
              ].join('\n')
            : `Not inside a Maestro session terminal (server: ${i.server})`,
        );
      }),
    );

  program
    .command('status')
    .description("The server's health and, inside a session, that session's status and tasks")
    .action(
      action(async (ctx) => {
        const health = await ctx.client.get<{ status: string }>('/health');
        const id = ctx.env.MAESTRO_SESSION_ID;
        const session = id ? await ctx.client.get<Session>(`/api/sessions/${encodeURIComponent(id)}`) : null;
        ctx.out({ server: ctx.client.baseUrl, health: health.status, session }, (r) =>
          [
            `Server:  ${r.server} (${r.health})`,
            ...(r.session ? [`Session: ${r.session.id} ${r.session.status}`, `Tasks:   ${r.session.taskIds.join(', ') || '-'}`] : []),
          ].join('\n'),
        );
      }),
    );

  program
    .command('commands')
    .description('List every command')
    .action(
      action(async (ctx) => {
        const names: string[] = [];
        const walk = (cmd: Command, prefix: string) => {
          for (const sub of cmd.commands) {
            const name = `${prefix}${sub.name()}`;
            if (sub.commands.length) walk(sub, `${name} `);
            else names.push(name);
          }
        };
        walk(program, '');
        ctx.out(names, (n) => n.join('\n'));
      }),
    );

  program
    .command('track-file <path>')
    .description('Record that this session touched a file (a hook: never fails)')
    .option('--session-id <id>', 'session (default: $MAESTRO_SESSION_ID)')
    .action(
      hook('track-file', async (ctx, file: string, opts: { sessionId?: string }) => {
        const id = opts.sessionId ?? ctx.env.MAESTRO_SESSION_ID;
        if (!id) throw new CliError('no session: $MAESTRO_SESSION_ID is not set');
        await ctx.client.post(`/api/sessions/${encodeURIComponent(id)}/events`, { type: 'file_modified', data: { path: file } });
        ctx.out({ sessionId: id, path: file }, () => '');
      }),
    );
}
