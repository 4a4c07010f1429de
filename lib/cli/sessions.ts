// `maestro session`: list, show, spawn, complete, stop and delete sessions.
import { type Command, Option } from 'commander';
import { FINAL_SESSION_STATUSES, ROLES, SESSION_STATUSES, type Session, STRATEGIES } from '../domain/types.js';
import { CliError, EXIT } from './client.js';
import { hook } from './compat.js';
import { action } from './context.js';
import * as f from './format.js';
import { sendCommand } from './messages.js';
import { TIMELINE_DEFAULT, type TimelineOptions, timelinePages } from './timeline.js';

const path = (id: string) => `/api/sessions/${encodeURIComponent(id)}`;
const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * A spawn with no runner (none named, and the server has no local one) is only announced to connected UIs: if none
 * opens its terminal, nothing ever starts the agent, and a runner that connects later does not take it either.
 */
const NO_RUNNER =
  'No runner will start this agent: the server has no local runner (tmux missing, or MAESTRO_LOCAL_RUNNER=0) and none was ' +
  'named. Only a connected Agents UI opens its terminal. To have it run, start a runner (maestro host) where tmux is ' +
  'installed and spawn again with --host <its name>.';

export function sessionCommands(program: Command) {
  const session = program.command('session').alias('sessions').description('Manage agent sessions');

  session
    .command('list')
    .description('List sessions')
    .option('-p, --project-id <id>', "only this project's sessions")
    .option('-t, --task-id <id>', 'only sessions working on this task')
    .addOption(new Option('-s, --status <status>').choices([...SESSION_STATUSES, 'running']))
    .option('-a, --active', 'leave out completed sessions')
    .action(
      action(async (ctx, opts: { projectId?: string; taskId?: string; status?: string; active?: boolean }) => {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries({ ...opts, active: opts.active ? 'true' : undefined })) if (v) q.set(k, String(v));
        ctx.out(await ctx.client.get<Session[]>(`/api/sessions${q.size ? `?${q}` : ''}`), f.sessionList);
      }),
    );

  session
    .command('info [id]')
    .description('Show a session and its timeline (default: $MAESTRO_SESSION_ID)')
    .action(
      action(async (ctx, id?: string) => {
        ctx.out(await ctx.client.get<Session>(path(ctx.sessionId(id))), f.sessionDetails);
      }),
    );

  session
    .command('timeline [id]')
    .description("Show a session's timeline, oldest first, older entries included (default: $MAESTRO_SESSION_ID)")
    .option('-n, --limit <n>', `the newest n entries (default ${TIMELINE_DEFAULT})`)
    .option('--all', 'every entry, however many')
    .option('--before <entryId>', 'only entries older than this one (the hint printed when more remain)')
    .action(
      action(async (ctx, id: string | undefined, opts: TimelineOptions) => {
        const { entries, next } = await timelinePages(ctx, ctx.sessionId(id), opts);
        ctx.out(entries, () => (entries.length ? entries.map(f.timelineLine).join('\n') : 'No timeline entries.'));
        if (next !== null && !ctx.json) ctx.warn(`maestro: older entries remain: --before ${next} (or --limit, --all)\n`);
      }),
    );

  session
    .command('register')
    .description(
      "Register this terminal's session with the server and mark it working (uses $MAESTRO_SESSION_ID, $MAESTRO_PROJECT_ID, $MAESTRO_TASK_IDS)",
    )
    .option('--session-id <id>', 'session ID (default: $MAESTRO_SESSION_ID)')
    .option('-p, --project-id <id>', 'project, when the session must be created (default: $MAESTRO_PROJECT_ID)')
    .option('--task-ids <ids>', 'comma-separated task IDs, when the session must be created (default: $MAESTRO_TASK_IDS)')
    .option('--agent-id <id>', 'which agent runs in this session')
    .action(
      hook('session register', async (ctx, opts: { sessionId?: string; projectId?: string; taskIds?: string; agentId?: string }) => {
        const id = ctx.sessionId(opts.sessionId, '--session-id');
        const existing = await ctx.client.get<Session>(path(id)).catch((error) => {
          if (error instanceof CliError && error.exitCode === EXIT.notFound) return undefined;
          throw error;
        });
        const result = existing
          ? await ctx.client.patch<Session>(path(id), { status: 'working', ...(opts.agentId && { agentId: opts.agentId }) })
          : await ctx.client.post<Session>('/api/sessions', {
              id,
              projectId: ctx.projectId(opts.projectId),
              taskIds: list(opts.taskIds ?? ctx.env.MAESTRO_TASK_IDS ?? ''),
              status: 'working',
              agentId: opts.agentId,
            });
        ctx.out(result, (s) => `Session ${s.id} ${existing ? 'registered' : 'created'}: ${s.status}`);
      }),
    );

  session
    .command('complete [id]')
    .description('Mark a session completed (default: $MAESTRO_SESSION_ID)')
    .addOption(new Option('--status <status>', 'end with another status').choices(FINAL_SESSION_STATUSES).default('completed'))
    .action(
      hook('session complete', async (ctx, id: string | undefined, opts: { status: string }) => {
        const s = await ctx.client.patch<Session>(path(ctx.sessionId(id)), { status: opts.status });
        ctx.out(s, () => `Session ${s.id} is now ${s.status}`);
      }),
    );

  session
    .command('spawn')
    .description(
      'Ask the server to spawn an agent session for tasks: a runner launches it in tmux (with no runner, connected UIs open its terminal)',
    )
    .option('-t, --task-ids <ids>', 'comma-separated task IDs')
    .option('--task <ids>', "same as --task-ids (the original CLI's name)")
    .option('--host <name>', "runner to launch on (default: the server's local runner; inside an agent, its own)")
    .option('--agent <preset>', 'claude, codex, gemini, shell or custom')
    .option('--model <model>', 'model for the agent')
    .option('-p, --project-id <id>', "project (default: $MAESTRO_PROJECT_ID, or the first task's)")
    .addOption(new Option('--role <role>').choices(ROLES).default('worker'))
    .addOption(new Option('--strategy <strategy>').choices(STRATEGIES).default('simple'))
    .option('--skills <ids>', 'comma-separated skill IDs')
    .option('-n, --name <name>', 'session name')
    .option('--reason <text>', "why, recorded in the session's context")
    .action(
      action(
        async (
          ctx,
          opts: {
            taskIds?: string;
            task?: string;
            projectId?: string;
            role: string;
            strategy: string;
            skills?: string;
            name?: string;
            reason?: string;
            host?: string;
            agent?: string;
            model?: string;
          },
        ) => {
          const taskIds = list(opts.taskIds ?? opts.task ?? '');
          if (!taskIds.length) throw new CliError('Pass the tasks: --task-ids a,b (or --task a,b)');
          const projectId =
            opts.projectId ??
            ctx.globalProject ??
            ctx.env.MAESTRO_PROJECT_ID ??
            (taskIds[0] ? (await ctx.client.get(`/api/tasks/${encodeURIComponent(taskIds[0])}`)).projectId : undefined);
          const parent = ctx.env.MAESTRO_SESSION_ID;
          const result = await ctx.client.post('/api/sessions/spawn', {
            projectId,
            taskIds,
            role: opts.role,
            strategy: opts.strategy,
            skills: opts.skills ? list(opts.skills) : [],
            sessionName: opts.name,
            spawnSource: parent ? 'session' : 'ui',
            sessionId: parent,
            context: opts.reason ? { reason: opts.reason } : {},
            ...(opts.host && { host: opts.host }),
            ...(opts.agent && { agent: opts.agent }),
            ...(opts.model && { model: opts.model }),
          });
          ctx.out(
            result,
            (r) =>
              `Spawned session ${r.sessionId}\n${r.message}\nManifest: ${r.manifestPath}\nCommand:  ${r.initialCommand}  (in ${r.cwd || '.'})` +
              (r.host ? '' : `\n${NO_RUNNER}`),
          );
        },
      ),
    );

  session
    .command('stop [id]')
    .description(
      "Stop a session: its runner ends the agent's terminal; the session becomes stopped (one already ended keeps its status) (default: $MAESTRO_SESSION_ID)",
    )
    .option('--reason <text>', "why, recorded in the session's timeline")
    .action(
      action(async (ctx, id: string | undefined, opts: { reason?: string }) => {
        const s = await ctx.client.post<Session>(`${path(ctx.sessionId(id))}/stop`, opts.reason ? { reason: opts.reason } : {});
        ctx.out(s, () => (s.status === 'stopped' ? `Session ${s.id} is stopped` : `Session ${s.id} had already ended: ${s.status}`));
      }),
    );

  sendCommand(session);

  session
    .command('delete <id>')
    .description('Delete a session')
    .action(
      action(async (ctx, id: string) => {
        ctx.out(await ctx.client.delete(path(id)), () => `Deleted session ${id}`);
      }),
    );
}
