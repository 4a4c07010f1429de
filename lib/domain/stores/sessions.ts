// The session store: sessions, their timeline and events, and their links to tasks (§3.4).
import { hostname } from 'node:os';
import { ApiError, notFound, projectNotFound, sessionNotFound, taskNotFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Db, Tx } from '../../storage/db.js';
import type { TaskGraph } from '../graph.js';
import type { CreateSessionInput, SessionQueryInput, TimelineInputValue, UpdateSessionInput } from '../requests.js';
import { isFinalSessionStatus, type Session, type Task, type TimelineType } from '../types.js';
import type { AttentionStore } from './attention.js';
import { renewLeases } from './claims.js';
import { diff, emitTask, sessionWithTask, taskWithSession, unique } from './links.js';
import { bounded, dropHistory, timelineEntry, timelinePage } from './session-history.js';

/** Sessions and their links to tasks (contract §3.4). */
export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly graph: TaskGraph,
    private readonly attention?: AttentionStore,
  ) {}

  list(query: Omit<SessionQueryInput, 'limit' | 'cursor'>): Session[] {
    const { projectId, taskId, status, active, parentSessionId } = query;
    const candidates =
      taskId !== undefined
        ? (this.db.get('tasks', taskId)?.sessionIds ?? []).map((id) => this.db.get('sessions', id))
        : projectId !== undefined
          ? [...this.db.sessionsByProject.get(projectId)].map((id) => this.db.get('sessions', id))
          : [...this.db.all('sessions')];
    return candidates.filter(
      (s): s is Session =>
        s !== undefined &&
        (projectId === undefined || s.projectId === projectId) &&
        (taskId === undefined || s.taskIds.includes(taskId)) &&
        (status === undefined || s.status === status) &&
        (active !== 'true' || s.status !== 'completed') &&
        (parentSessionId === undefined || s.metadata?.spawnedBy === parentSessionId) &&
        (query.attention === undefined || s.attention?.state === query.attention),
    );
  }

  get(id: string): Session {
    const session = this.db.get('sessions', id);
    if (!session) throw sessionNotFound(id);
    return session;
  }

  create(input: CreateSessionInput): Promise<Session> {
    return this.db.mutate((tx) => {
      const { session, tasks } = createSession(tx, input);
      tx.emit('session:created', session);
      for (const task of tasks) {
        tx.emit('task:session_added', { taskId: task.id, sessionId: session.id });
        emitTask(tx, 'updated', task);
      }
      return session;
    });
  }

  update(id: string, input: UpdateSessionInput): Promise<Session> {
    return this.db.mutate((tx) => {
      const before = this.get(id);
      const { added, removed } = input.taskIds ? diff(before.taskIds, input.taskIds) : { added: [], removed: [] };
      const missing = added.find((tid) => !tx.get('tasks', tid));
      if (missing) throw taskNotFound(missing);
      const session: Session = bounded(tx, {
        ...before,
        taskIds: input.taskIds ? unique(input.taskIds) : before.taskIds,
        status: input.status ?? before.status,
        completedAt: input.status && isFinalSessionStatus(input.status) ? tx.now : before.completedAt,
        env: input.env ? { ...before.env, ...input.env } : before.env,
        events: input.events
          ? [...before.events, ...input.events.map((e) => ({ id: newId('evt', tx.now), timestamp: tx.now, ...e }))]
          : before.events,
        timeline: input.timeline ? [...before.timeline, ...input.timeline.map((t) => timelineEntry(tx, t))] : before.timeline,
        lastActivity: tx.now,
      });
      if (input.agentId !== undefined) session.agentId = input.agentId;
      tx.put('sessions', session);
      tx.emit('session:updated', session);
      for (const [tid, linked] of [...added.map((t) => [t, true] as const), ...removed.map((t) => [t, false] as const)]) {
        tx.emit(linked ? 'session:task_added' : 'session:task_removed', { sessionId: id, taskId: tid });
        tx.emit(linked ? 'task:session_added' : 'task:session_removed', { taskId: tid, sessionId: id });
        const task = tx.get('tasks', tid);
        if (task) emitTask(tx, 'updated', taskWithSession(tx, task, id, linked));
      }
      if (!isFinalSessionStatus(session.status)) renewLeases(tx, this.graph, id);
      return session;
    });
  }

  remove(id: string): Promise<{ success: true; id: string }> {
    return this.db.mutate((tx) => {
      const session = this.get(id);
      tx.remove('sessions', id);
      dropHistory(tx, id);
      tx.emit('session:deleted', { id });
      for (const tid of session.taskIds) {
        const task = tx.get('tasks', tid);
        if (!task) continue;
        tx.emit('task:session_removed', { taskId: tid, sessionId: id });
        emitTask(tx, 'updated', taskWithSession(tx, task, id, false));
      }
      return { success: true as const, id };
    });
  }

  addEvent(id: string, input: { type: string; data?: unknown }): Promise<Session> {
    return this.#append(id, (tx, s) => ({ ...s, events: [...s.events, { id: newId('evt', tx.now), timestamp: tx.now, ...input }] }));
  }

  /** A `needs_input` or `progress` entry is also a report of the agent's attention (§21). */
  addTimeline(id: string, input: TimelineInputValue): Promise<Session> {
    const state = input.type === 'needs_input' ? 'needs_input' : input.type === 'progress' ? 'working' : undefined;
    let announced = false;
    return this.#append(
      id,
      (tx, s) => {
        const appended = { ...s, timeline: [...s.timeline, timelineEntry(tx, input)] };
        if (!state || !this.attention) return appended;
        const result = this.attention.apply(tx, appended, { source: 'report', state, reason: input.message });
        announced = result.announced;
        return result.session;
      },
      undefined,
      (tx, session) => announced && tx.emit('session:attention', { sessionId: id, attention: session.attention! }),
    );
  }

  /** `POST /api/tasks/:id/timeline`: a task's progress, written to the reporting session's timeline. */
  async addTaskTimeline(taskId: string, input: { sessionId: string; message: string; type: TimelineType }) {
    const { sessionId, message, type } = input;
    await this.#append(
      sessionId,
      (tx, s) => ({ ...s, timeline: [...s.timeline, timelineEntry(tx, { type, message, taskId })] }),
      () => {
        if (!this.db.get('tasks', taskId)) throw taskNotFound(taskId);
      },
    );
    return { success: true as const, taskId, sessionId, message, type };
  }

  /** `GET /api/sessions/:id/timeline`: the whole timeline, history included, newest first (§24.9). */
  timeline(id: string, before: string | undefined, limit: number) {
    return timelinePage(this.db, this.get(id), before, limit);
  }

  /** Links or unlinks a task (`POST`/`DELETE /api/sessions/:id/tasks/:taskId`). */
  setLink(id: string, taskId: string, linked: boolean): Promise<Session> {
    return this.db.mutate((tx) => {
      const before = tx.get('sessions', id);
      if (!before) throw notFound('Session not found', { sessionId: id });
      const task = tx.get('tasks', taskId);
      if (!task) throw notFound('Task not found', { taskId });
      const linkedSession = sessionWithTask(tx, before, taskId, linked);
      const session: Session = bounded(tx, {
        ...linkedSession,
        timeline: [
          ...linkedSession.timeline,
          linked
            ? timelineEntry(tx, { type: 'task_started', message: 'Added task to session', taskId })
            : timelineEntry(tx, { type: 'task_completed', message: 'Removed task from session', taskId }),
        ],
      });
      tx.put('sessions', session);
      const updatedTask = taskWithSession(tx, task, id, linked);
      tx.emit(linked ? 'session:task_added' : 'session:task_removed', { sessionId: id, taskId });
      tx.emit(linked ? 'task:session_added' : 'task:session_removed', { taskId, sessionId: id });
      tx.emit('session:updated', session);
      emitTask(tx, 'updated', updatedTask);
      return session;
    });
  }

  #append(
    id: string,
    change: (tx: Tx, s: Session) => Session,
    check?: () => void,
    after?: (tx: Tx, session: Session) => void,
  ): Promise<Session> {
    return this.db.mutate((tx) => {
      check?.();
      const session = bounded(tx, { ...change(tx, this.get(id)), lastActivity: tx.now });
      tx.put('sessions', session);
      tx.emit('session:updated', session);
      after?.(tx, session);
      // Activity of a session renews the leases of the tasks it claimed (§18.3).
      renewLeases(tx, this.graph, id);
      return session;
    });
  }
}

/**
 * What `POST /api/sessions` and spawn share: the session, its first timeline entries (`task_started` for each task,
 * or for `startedTaskIds` when given), and both sides of each link.
 */
export function createSession(tx: Tx, input: CreateSessionInput, startedTaskIds?: readonly string[]): { session: Session; tasks: Task[] } {
  if (!tx.get('projects', input.projectId)) throw projectNotFound(input.projectId);
  const taskIds = unique(input.taskIds);
  const missing = taskIds.find((tid) => !tx.get('tasks', tid));
  if (missing) throw taskNotFound(missing);
  if (input.id && tx.get('sessions', input.id)) {
    throw new ApiError(409, 'CONFLICT', `Session ${input.id} already exists`, { sessionId: input.id });
  }
  const id = input.id ?? newId('sess', tx.now);
  const session: Session = bounded(tx, {
    id,
    projectId: input.projectId,
    taskIds,
    name: input.name,
    ...(input.agentId !== undefined && { agentId: input.agentId }),
    env: input.env,
    strategy: input.strategy,
    status: input.status,
    startedAt: tx.now,
    lastActivity: tx.now,
    completedAt: isFinalSessionStatus(input.status) ? tx.now : null,
    hostname: hostname(),
    platform: process.platform,
    events: [],
    timeline: [
      timelineEntry(tx, { type: 'session_started', message: 'Session created' }),
      ...(startedTaskIds ?? taskIds).map((taskId) =>
        timelineEntry(tx, { type: 'task_started', message: 'Started working on task', taskId }),
      ),
    ],
    ...(input.metadata !== undefined && { metadata: input.metadata }),
    host: null,
    agent: null,
    run: null,
    attention: null,
    workspace: null,
  });
  tx.put('sessions', session);
  const tasks = taskIds.map((tid) => taskWithSession(tx, tx.get('tasks', tid)!, id, true));
  return { session, tasks };
}
