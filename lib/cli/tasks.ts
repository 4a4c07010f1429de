// `maestro task`: create, list, update and complete tasks, as a person or from inside a session.
import { type Command, Option } from 'commander';
import { TASK_PRIORITIES, TASK_SESSION_STATUSES, TASK_STATUSES, type TaskSessionStatus, type TaskView } from '../domain/types.js';
import type { Client } from './client.js';
import { action, type Ctx } from './context.js';
import * as f from './format.js';
import { graphCommands } from './graph.js';

const path = (id: string) => `/api/tasks/${encodeURIComponent(id)}`;
const query = (params: Record<string, string | undefined>) => {
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return q.size ? `?${q}` : '';
};

/**
 * `start`, `complete` and `block` as a person sets them (task `status`), or, inside a session terminal, as that
 * session reports them: the task's `sessionStatus` plus a timeline entry, since agents cannot change user-owned fields.
 */
async function report(
  ctx: Ctx,
  id: string | undefined,
  opts: { sessionId?: string; reason?: string },
  change: {
    status: 'in_progress' | 'completed' | 'blocked';
    sessionStatus: 'working' | 'completed' | 'blocked';
    type: 'task_started' | 'task_completed' | 'task_blocked';
    verb: string;
  },
) {
  const taskId = id ?? (await currentTaskId(ctx)) ?? ctx.taskId();
  const sessionId = opts.sessionId ?? ctx.env.MAESTRO_SESSION_ID;
  if (!sessionId) {
    const task = await ctx.client.patch<TaskView>(path(taskId), { status: change.status });
    return ctx.out(task, (t) => `Task ${t.id} is now ${t.status}`);
  }
  const { task, owns } = await reportAsSession(ctx.client, sessionId, taskId, change.sessionStatus);
  const message = `${change.verb}${opts.reason ? `: ${opts.reason}` : ''}`;
  await ctx.client.post(`/api/sessions/${encodeURIComponent(sessionId)}/timeline`, { type: change.type, message, taskId });
  ctx.out(task, (t) =>
    owns
      ? `Task ${t.id} is now completed by session ${sessionId}, its claim holder`
      : `Task ${t.id} reported ${change.sessionStatus} by session ${sessionId}`,
  );
  // An agent whose lease ran out (or that never claimed) must learn that its work did not close the task: the task
  // is still open, offered to other agents, and would be done again.
  if (change.status === 'completed' && !owns && task.status !== 'completed') {
    const holder = task.claim?.sessionId;
    const why = holder
      ? `session ${holder} holds its claim`
      : `session ${sessionId} holds no claim on it (a lease that runs out is released); to complete it: maestro task claim ${task.id} && maestro task complete ${task.id}`;
    ctx.warn(`maestro: note: task ${task.id} is still ${task.status}, as only its claim holder or a person completes it: ${why}\n`);
  }
}

/**
 * A session's report on a task, for the CLI and `maestro mcp` alike. The session holding a task's claim owns it
 * (§18.2): its completing the task completes it, which unblocks its dependents. Otherwise the session only reports
 * its own view (`sessionStatus`), since agents cannot change user-owned fields.
 */
export async function reportAsSession(
  client: Client,
  sessionId: string,
  taskId: string,
  sessionStatus: TaskSessionStatus,
): Promise<{ task: TaskView; owns: boolean }> {
  const owns = sessionStatus === 'completed' && (await holdsClaim(client, sessionId, taskId));
  const task = await client.patch<TaskView>(
    path(taskId),
    owns ? completedByHolder(sessionId) : { sessionStatus, updateSource: 'session', sessionId },
  );
  return { task, owns };
}

/** Whether `sessionId` holds the live claim of the task. */
export const holdsClaim = async (client: Client, sessionId: string, taskId: string) =>
  (await client.get<TaskView>(path(taskId))).claim?.sessionId === sessionId;

/** The PATCH by which the claim holder completes its task (its status, which unblocks the dependents). */
export const completedByHolder = (sessionId: string) => ({ status: 'completed', sessionStatus: 'completed', sessionId }) as const;

/**
 * The task a command is about when none is named, inside a session terminal: for a queue session, the task of its
 * processing item (§18.4); undefined otherwise (callers fall back to the first of $MAESTRO_TASK_IDS).
 */
export async function currentTaskId(ctx: Pick<Ctx, 'env' | 'client'>): Promise<string | undefined> {
  const sessionId = ctx.env.MAESTRO_SESSION_ID;
  if (!sessionId || ['simple', 'tree'].includes(ctx.env.MAESTRO_STRATEGY ?? '')) return undefined;
  try {
    const { queue } = await ctx.client.get<{ queue: { items: { taskId: string; status: string }[]; currentIndex: number } }>(
      `/api/sessions/${encodeURIComponent(sessionId)}/queue`,
    );
    const item = queue.items[queue.currentIndex];
    return item?.status === 'processing' ? item.taskId : undefined;
  } catch {
    return undefined; // not a queue session, or no queue: the usual default applies
  }
}

export function taskCommands(program: Command) {
  const task = program.command('task').alias('tasks').description('Manage tasks');
  const sessionOption = () => new Option('--session-id <id>', 'report as this session (default: $MAESTRO_SESSION_ID)');

  task
    .command('list [parentId]')
    .description("List tasks (with a task ID: that task's children)")
    .option('-p, --project-id <id>', "only this project's tasks (default: $MAESTRO_PROJECT_ID)")
    .addOption(new Option('-s, --status <status>', 'only tasks with this status').choices([...TASK_STATUSES, 'pending']))
    .option('--parent-id <id>', 'only children of this task ("null" for root tasks)')
    .option('--all', 'every project, even inside a session terminal')
    .action(
      action(async (ctx, parent: string | undefined, opts: { projectId?: string; status?: string; parentId?: string; all?: boolean }) => {
        if (parent !== undefined) {
          return ctx.out(await ctx.client.get<TaskView[]>(`${path(parent)}/children`), f.taskList);
        }
        const projectId = opts.all ? undefined : (opts.projectId ?? ctx.globalProject ?? ctx.env.MAESTRO_PROJECT_ID);
        ctx.out(
          await ctx.client.get<TaskView[]>(`/api/tasks${query({ projectId, status: opts.status, parentId: opts.parentId })}`),
          f.taskList,
        );
      }),
    );

  task
    .command('create <title>')
    .description('Create a task')
    .option('-p, --project-id <id>', 'project (default: $MAESTRO_PROJECT_ID)')
    .option('--parent-id <id>', 'make it a child of this task')
    .option('--parent <id>', "same as --parent-id (the original CLI's name)")
    .option('-d, --description <text>', 'what done means')
    .addOption(new Option('--priority <priority>').choices(TASK_PRIORITIES))
    .option('--prompt <text>', 'initial prompt for the agent')
    .action(
      action(
        async (
          ctx,
          title: string,
          opts: { projectId?: string; parentId?: string; parent?: string; description?: string; priority?: string; prompt?: string },
        ) => {
          const created = await ctx.client.post<TaskView>('/api/tasks', {
            projectId: ctx.projectId(opts.projectId),
            title,
            parentId: opts.parentId ?? opts.parent,
            description: opts.description,
            priority: opts.priority,
            initialPrompt: opts.prompt,
          });
          ctx.out(created, (t) => `Created task ${t.id}\n${f.taskDetails(t)}`);
        },
      ),
    );

  task
    .command('get [id]')
    .description("Show a task (default: the queue's current task, else the session's first task)")
    .action(
      action(async (ctx, id?: string) => {
        ctx.out(await ctx.client.get<TaskView>(path(id ?? (await currentTaskId(ctx)) ?? ctx.taskId())), f.taskDetails);
      }),
    );

  task
    .command('update <id>')
    .description("Change a task's fields")
    .option('--title <title>')
    .option('-d, --description <text>')
    .addOption(new Option('-s, --status <status>').choices([...TASK_STATUSES, 'pending']))
    .addOption(new Option('--priority <priority>').choices(TASK_PRIORITIES))
    .addOption(new Option('--session-status <status>').choices(TASK_SESSION_STATUSES))
    .action(
      action(async (ctx, id: string, opts: Record<string, string | undefined>) => {
        if (Object.values(opts).every((v) => v === undefined))
          throw new Error('Nothing to update: pass at least one of --title, --description, --status, --priority, --session-status');
        ctx.out(await ctx.client.patch<TaskView>(path(id), opts), (t) => `Updated task ${t.id}\n${f.taskDetails(t)}`);
      }),
    );

  task
    .command('start [id]')
    .description('Mark a task in progress (inside a session: report it working)')
    .addOption(sessionOption())
    .action(
      action(async (ctx, id: string | undefined, opts: { sessionId?: string }) =>
        report(ctx, id, opts, { status: 'in_progress', sessionStatus: 'working', type: 'task_started', verb: 'Started task' }),
      ),
    );

  task
    .command('complete [id]')
    .description('Mark a task completed (inside a session: report it completed)')
    .addOption(sessionOption())
    .action(
      action(async (ctx, id: string | undefined, opts: { sessionId?: string }) =>
        report(ctx, id, opts, { status: 'completed', sessionStatus: 'completed', type: 'task_completed', verb: 'Completed task' }),
      ),
    );

  task
    .command('block [id]')
    .description('Mark a task blocked (inside a session: report it blocked)')
    .addOption(sessionOption())
    .option('-r, --reason <text>', 'what is needed to go on')
    .action(
      action(async (ctx, id: string | undefined, opts: { sessionId?: string; reason?: string }) =>
        report(ctx, id, opts, { status: 'blocked', sessionStatus: 'blocked', type: 'task_blocked', verb: 'Blocked' }),
      ),
    );

  task
    .command('children <id>')
    .description("List a task's direct children")
    .action(
      action(async (ctx, id: string) => {
        ctx.out(await ctx.client.get<TaskView[]>(`${path(id)}/children`), f.taskList);
      }),
    );

  task
    .command('tree [id]')
    .description("Show a project's tasks as a tree, or the tree under one task")
    .option('-p, --project-id <id>', "project (default: $MAESTRO_PROJECT_ID, or the task's)")
    .action(
      action(async (ctx, id: string | undefined, opts: { projectId?: string }) => {
        const root = id ? await ctx.client.get<TaskView>(path(id)) : undefined;
        const projectId = root?.projectId ?? ctx.projectId(opts.projectId);
        const tasks = await ctx.client.get<TaskView[]>(`/api/tasks${query({ projectId })}`);
        ctx.out(tasks, (ts) => f.taskTree(ts, root && [root.id]));
      }),
    );

  graphCommands(task);

  task
    .command('delete <id>')
    .description('Delete a task (its children stay)')
    .action(
      action(async (ctx, id: string) => {
        ctx.out(await ctx.client.delete(path(id)), () => `Deleted task ${id}`);
      }),
    );
}
