// `maestro mcp`: Maestro as Model Context Protocol tools over stdio, for agents.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import * as z from 'zod';
import { AGENT_PRESETS } from '../domain/agents.js';
import { ROLES, STRATEGIES, TASK_PRIORITIES, TASK_STATUSES } from '../domain/types.js';
import { CliError, Client, cliToken, EXIT } from './client.js';
import { currentTaskId, reportAsSession } from './tasks.js';

type Env = Record<string, string | undefined>;
type Args = Record<string, any>;

const enc = encodeURIComponent;
const query = (params: Record<string, string | undefined>) => {
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return q.size ? `?${q}` : '';
};

/**
 * `maestro mcp`: the agent's side of Maestro as Model Context Protocol tools over stdio. It talks to the server over
 * REST like the CLI (same URL and token variables); inside a spawned terminal, `MAESTRO_SESSION_ID`,
 * `MAESTRO_TASK_IDS` and `MAESTRO_PROJECT_ID` are the defaults and the session ID is sent as `X-Session-ID`.
 */
export function createMcpServer(baseUrl: string, env: Env, version: string): McpServer {
  const me = env.MAESTRO_SESSION_ID || undefined;
  // The admin token, else the session token a spawned terminal holds (contract §15.6), as the CLI does.
  const { token, variable } = cliToken(env);
  const client = new Client(baseUrl, token, me ? { 'x-session-id': me } : {}, variable);
  const server = new McpServer(
    { name: 'maestro', version },
    {
      instructions:
        'Maestro coordinates several coding agents through tasks, sessions and messages. Start with whoami; ' +
        'report progress as you work, and report blocked or needs_input instead of waiting silently.',
    },
  );

  const session = () => {
    if (!me) throw new CliError('This tool needs a Maestro session: run inside a terminal Maestro spawned (MAESTRO_SESSION_ID is not set)');
    return me;
  };
  const project = (given?: string) => {
    const id = given ?? env.MAESTRO_PROJECT_ID;
    if (!id) throw new CliError('No projectId given, and MAESTRO_PROJECT_ID is not set');
    return id;
  };
  /** The task a tool is about when none is named: a queue's processing item (§18.4), else the session's first task. */
  const task = async (given?: string) => {
    const id = given ?? (await currentTaskId({ env, client })) ?? env.MAESTRO_TASK_IDS?.split(',')[0];
    if (!id) throw new CliError('No taskId given, and this session has no task (MAESTRO_TASK_IDS is not set)');
    return id;
  };

  /** Registers a tool whose handler answers JSON; failures become tool errors the agent can read. */
  const tool = <S extends z.ZodRawShape>(
    name: string,
    description: string,
    inputSchema: S,
    run: (args: z.infer<z.ZodObject<S>>) => Promise<unknown>,
    readOnly = false,
  ) =>
    server.registerTool(name, { description, inputSchema, annotations: { readOnlyHint: readOnly } }, (async (args: Args) => {
      try {
        const result = await run(args as z.infer<z.ZodObject<S>>);
        return { content: [{ type: 'text' as const, text: JSON.stringify(result, null, 2) }] };
      } catch (error) {
        const failure = error instanceof CliError ? error : new CliError((error as Error).message);
        const details = failure.details === undefined ? '' : ` ${JSON.stringify(failure.details)}`;
        return { isError: true, content: [{ type: 'text' as const, text: `${failure.code}: ${failure.message}${details}` }] };
      }
    }) as never);

  /**
   * A session reports on a task as `maestro task complete|block` does: the task's sessionStatus (completing a task it
   * holds the claim of completes the task), then a timeline entry.
   */
  const reportTask = async (
    taskId: string,
    sessionStatus: 'completed' | 'blocked' | 'needs_input',
    type: 'task_completed' | 'task_blocked' | 'needs_input',
    message: string,
  ) => {
    const sessionId = session();
    const { task: updated } = await reportAsSession(client, sessionId, taskId, sessionStatus);
    await client.post(`/api/sessions/${enc(sessionId)}/timeline`, { type, message, taskId });
    return updated;
  };

  const taskId = z.string().describe("Task ID (default: a queue session's task in progress, else this session's first task)");
  const projectId = z.string().describe("Project ID (default: this session's project)");

  tool(
    'whoami',
    'Who this agent is to Maestro: the server, its session (with status and tasks) and project, and the actor and role its changes are recorded with (GET /api/me). Call it first.',
    {},
    async () => ({
      server: baseUrl,
      sessionId: me ?? null,
      projectId: env.MAESTRO_PROJECT_ID ?? null,
      taskIds: env.MAESTRO_TASK_IDS ? env.MAESTRO_TASK_IDS.split(',') : [],
      session: me ? await client.get(`/api/sessions/${enc(me)}`) : null,
      // §23: who the server records this agent's changes as, and what its token may do (null on an older server, which
      // has no such route); a server that is down or refuses the token is an error the agent must see, not a null.
      access: await client.get('/api/me').catch((error: unknown) => {
        if (error instanceof CliError && error.exitCode === EXIT.notFound) return null;
        throw error;
      }),
    }),
    true,
  );

  tool(
    'task_list',
    "List the tasks of a project (default: this session's), optionally only those with a status or parent; with no project at all, every project's.",
    {
      projectId: projectId.optional(),
      status: z.enum(TASK_STATUSES).optional().describe('Only tasks with this status'),
      parentId: z.string().optional().describe('Only the children of this task ("null" for root tasks)'),
    },
    async (a) =>
      client.get(`/api/tasks${query({ projectId: a.projectId ?? env.MAESTRO_PROJECT_ID, status: a.status, parentId: a.parentId })}`),
    true,
  );

  tool(
    'task_get',
    'Get one task: title, description, status, priority, dependencies, sessions.',
    {
      taskId: taskId.optional(),
    },
    async (a) => client.get(`/api/tasks/${enc(await task(a.taskId))}`),
    true,
  );

  tool(
    'task_create',
    'Create a task (or a subtask with parentId) in a project. Returns the task with its ID.',
    {
      title: z.string().min(1).describe('Short title'),
      description: z.string().optional().describe('What to do, in detail'),
      priority: z.enum(TASK_PRIORITIES).optional().describe('Default medium'),
      parentId: z.string().optional().describe('Make it a subtask of this task'),
      dependencies: z.array(z.string()).optional().describe('IDs of tasks that must be completed first'),
      projectId: projectId.optional(),
    },
    async ({ projectId: given, ...fields }) => client.post('/api/tasks', { projectId: project(given), ...fields }),
  );

  tool(
    'task_update',
    "Change a task's title, description, status, priority or dependencies (as a person would).",
    {
      taskId: z.string().describe('Task ID'),
      title: z.string().min(1).optional(),
      description: z.string().optional(),
      status: z.enum(TASK_STATUSES).optional(),
      priority: z.enum(TASK_PRIORITIES).optional(),
      dependencies: z.array(z.string()).optional(),
    },
    async ({ taskId: id, ...fields }) => client.patch(`/api/tasks/${enc(id)}`, fields),
  );

  tool(
    'task_next',
    'The next task ready to work on in a project (highest priority, then oldest), or null. Does not claim it.',
    {
      projectId: projectId.optional(),
    },
    async (a) => client.get(`/api/tasks/next${query({ projectId: project(a.projectId) })}`),
    true,
  );

  tool(
    'task_claim',
    'Claim a task for this session so no other agent takes it; sets it in progress. Claim again to renew.',
    {
      taskId: z.string().describe('Task ID'),
      leaseMs: z
        .number()
        .int()
        .min(60_000)
        .max(86_400_000)
        .optional()
        .describe('How long the claim lasts without activity (default 15 minutes)'),
    },
    async (a) => client.post(`/api/tasks/${enc(a.taskId)}/claim`, { sessionId: session(), ...(a.leaseMs && { leaseMs: a.leaseMs }) }),
  );

  tool(
    'task_release',
    'Give back a task this session claimed (it cannot finish it, or hands it over to another agent): the claim ends and the task is ready for others again.',
    {
      taskId: z.string().describe('Task ID'),
    },
    async (a) => {
      session();
      return client.delete(`/api/tasks/${enc(a.taskId)}/claim`);
    },
  );

  tool(
    'task_complete',
    'Report a task completed by this session, with a short summary of what was done.',
    {
      taskId: taskId.optional(),
      summary: z.string().optional().describe('What was done'),
    },
    async (a) => reportTask(await task(a.taskId), 'completed', 'task_completed', a.summary ? `Completed: ${a.summary}` : 'Completed'),
  );

  tool(
    'report_progress',
    "Add a progress note to this session's timeline, so the people watching know where things stand.",
    {
      message: z.string().min(1).describe('What happened or what is next'),
      taskId: taskId.optional(),
    },
    async (a) => {
      const s = await client.post(`/api/sessions/${enc(session())}/timeline`, {
        type: 'progress',
        message: a.message,
        taskId: a.taskId ?? (await currentTaskId({ env, client })) ?? env.MAESTRO_TASK_IDS?.split(',')[0],
      });
      return s.timeline.at(-1);
    },
  );

  tool(
    'report_blocked',
    'Report that this session cannot go on with a task, and why.',
    {
      reason: z.string().min(1).describe('What blocks the task'),
      taskId: taskId.optional(),
    },
    async (a) => reportTask(await task(a.taskId), 'blocked', 'task_blocked', `Blocked: ${a.reason}`),
  );

  tool(
    'report_needs_input',
    'Ask the people watching for a decision or information this session needs to go on.',
    {
      question: z.string().min(1).describe('The question'),
      taskId: taskId.optional(),
    },
    async (a) => reportTask(await task(a.taskId), 'needs_input', 'needs_input', a.question),
  );

  tool(
    'message_send',
    'Send a message to another session (an orchestrator, or a worker of this project).',
    {
      to: z.string().describe('The receiving session ID'),
      message: z.string().min(1).max(10_000),
      priority: z.enum(['low', 'medium', 'high']).optional().describe('Default medium; medium and high wake a runner-managed receiver'),
      type: z.enum(['request', 'response', 'notification', 'command']).optional(),
      taskId: z.string().optional().describe('The task it is about'),
      replyTo: z.string().optional().describe('The message this answers'),
      requiresAck: z.boolean().optional(),
      expiresInMs: z
        .number()
        .int()
        .min(1000)
        .max(604_800_000)
        .optional()
        .describe('A deadline: the message expires unless read within this many milliseconds (the sender sees it expired)'),
    },
    async ({ to, message, expiresInMs, ...metadata }) =>
      client.post(`/api/sessions/${enc(to)}/messages`, { message, metadata, ...(expiresInMs !== undefined && { expiresInMs }) }),
  );

  tool(
    'message_inbox',
    "This session's unread messages, oldest first (taking delivery of new ones), as `maestro inbox` lists them; or the ones it sent, whatever their status (read, failed, expired…).",
    {
      sent: z.boolean().optional().describe('The sent box instead of the inbox'),
      status: z
        .string()
        .optional()
        .describe(
          'Comma list of pending, delivered, read, failed, expired (default: pending,delivered for the inbox, all for the sent box)',
        ),
    },
    // The inbox defaults to what is not read yet, as the CLI's does: an agent asking again after acknowledging its
    // messages gets the new ones, not its whole history each time.
    async (a) =>
      client.get(
        `/api/sessions/${enc(session())}/messages${query({ box: a.sent ? 'sent' : 'inbox', status: a.status ?? (a.sent ? undefined : 'pending,delivered') })}`,
      ),
  );

  tool(
    'message_read',
    'Read one message and acknowledge it (status read).',
    {
      messageId: z.string().describe('Message ID'),
    },
    async (a) => client.patch(`/api/messages/${enc(a.messageId)}`, { status: 'read' }),
  );

  tool(
    'spawn_worker',
    'Start a new agent session (a worker by default) for some tasks, on a runner (host) with an agent preset, as `maestro session spawn` does; with no runner, a UI opens its terminal.',
    {
      taskIds: z.array(z.string()).min(1).describe('The tasks it works on'),
      role: z.enum(ROLES).optional(),
      strategy: z.enum(STRATEGIES).optional().describe('simple: all tasks at once; queue: one after another'),
      name: z.string().optional().describe('Session name'),
      skills: z.array(z.string()).optional().describe('Skill IDs to load'),
      reason: z.string().optional().describe('Why, recorded in its context'),
      host: z.string().optional().describe("The runner (host name) to launch it on (default: this agent's own runner)"),
      agent: z.enum(AGENT_PRESETS).optional().describe("Agent preset (default: the project's, else the server's)"),
      model: z.string().optional().describe('Model for the agent, when its preset takes one'),
      projectId: projectId.optional(),
    },
    async (a) => {
      const projectId = a.projectId ?? env.MAESTRO_PROJECT_ID ?? (await client.get(`/api/tasks/${enc(a.taskIds[0]!)}`)).projectId;
      return client.post('/api/sessions/spawn', {
        projectId,
        taskIds: a.taskIds,
        role: a.role ?? 'worker',
        strategy: a.strategy ?? 'simple',
        skills: a.skills ?? [],
        sessionName: a.name,
        spawnSource: me ? 'session' : 'ui',
        sessionId: me,
        context: a.reason ? { reason: a.reason } : {},
        ...(a.host && { host: a.host }),
        ...(a.agent && { agent: a.agent }),
        ...(a.model && { model: a.model }),
      });
    },
  );

  tool(
    'session_diff',
    "What a session's agent changed in its git worktree (default: this session): files with counts, would-be conflicts, the patch.",
    {
      sessionId: z.string().optional().describe('Session ID (default: this session)'),
      stat: z.boolean().optional().describe('Only the file list, no patch'),
    },
    async (a) => client.get(`/api/sessions/${enc(a.sessionId ?? session())}/diff${a.stat ? '?stat=1' : ''}`),
    true,
  );

  tool(
    'session_merge',
    "Merge a session's worktree branch into its base branch (a session may merge itself and the sessions it spawned; stop the agent first).",
    {
      sessionId: z.string().describe('Session ID'),
      strategy: z.enum(['squash', 'merge', 'rebase']).optional().describe('squash (default): one commit'),
      message: z.string().optional().describe('Commit message'),
    },
    async (a) =>
      client.post(`/api/sessions/${enc(a.sessionId)}/merge`, {
        strategy: a.strategy ?? 'squash',
        ...(a.message !== undefined && { message: a.message }),
      }),
  );

  return server;
}

/** Serves MCP on stdin/stdout until the client closes it. Nothing else may write to stdout. */
export async function runMcp(baseUrl: string, version: string, env: Env = process.env): Promise<void> {
  await createMcpServer(baseUrl, env, version).connect(new StdioServerTransport());
}
