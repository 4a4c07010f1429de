// The task store, served with the derived `sessionCount`, `blockedBy` and `ready` (§3.3).
import { projectNotFound, sessionNotFound, taskNotFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Db } from '../../storage/db.js';
import type { TaskGraph } from '../graph.js';
import type { CreateTaskInput, TaskQueryInput, UpdateTaskInput } from '../requests.js';
import { type Task, type TaskView, taskView } from '../types.js';
import { renewed } from './claims.js';
import { announceDependents, checkDependencies, dropDependency } from './dependencies.js';
import { diff, emitTask, sessionWithTask, unique } from './links.js';
import { definedOnly } from './projects.js';

/** Tasks (contract §3.3, §18.1); served with the derived `sessionCount`, `blockedBy` and `ready`. */
export class TaskStore {
  constructor(
    private readonly db: Db,
    private readonly graph: TaskGraph,
  ) {}

  readonly #lookup = (id: string) => this.db.get('tasks', id);

  /** A task as served, from committed state. */
  view(id: string): TaskView {
    return taskView(this.get(id), this.#lookup);
  }

  list(query: Omit<TaskQueryInput, 'limit' | 'cursor'>): TaskView[] {
    const { projectId, status, parentId } = query;
    // Start from the narrowest index, then apply every filter.
    const candidates =
      parentId !== undefined && parentId !== 'null'
        ? this.#byIds(this.db.tasksByParent.get(parentId))
        : projectId !== undefined
          ? this.#byIds(this.db.tasksByProject.get(projectId))
          : [...this.db.all('tasks')];
    return candidates
      .filter(
        (t) =>
          (projectId === undefined || t.projectId === projectId) &&
          (status === undefined || t.status === status) &&
          (parentId === undefined || t.parentId === (parentId === 'null' ? null : parentId)),
      )
      .map((t) => taskView(t, this.#lookup));
  }

  get(id: string): Task {
    const task = this.db.get('tasks', id);
    if (!task) throw taskNotFound(id);
    return task;
  }

  children(id: string): TaskView[] {
    this.get(id);
    return this.#byIds(this.db.tasksByParent.get(id)).map((t) => taskView(t, this.#lookup));
  }

  create(input: CreateTaskInput): Promise<TaskView> {
    return this.db.mutate((tx) => {
      if (!tx.get('projects', input.projectId)) throw projectNotFound(input.projectId);
      if (input.parentId && !tx.get('tasks', input.parentId)) throw taskNotFound(input.parentId, 'Parent task not found');
      const task: Task = {
        id: newId('task', tx.now),
        projectId: input.projectId,
        parentId: input.parentId || null,
        title: input.title,
        description: input.description,
        status: 'todo',
        priority: input.priority,
        createdAt: tx.now,
        updatedAt: tx.now,
        startedAt: null,
        completedAt: null,
        initialPrompt: input.initialPrompt,
        sessionIds: [],
        skillIds: input.skillIds,
        agentIds: [],
        dependencies: checkDependencies(tx, undefined, input.projectId, input.dependencies),
      };
      tx.put('tasks', task);
      emitTask(tx, 'created', task);
      return taskView(task, (tid) => tx.get('tasks', tid));
    });
  }

  /**
   * `PATCH /api/tasks/:id`. `caller` is the requesting session (§15.6), else the body's reporting `sessionId`: when
   * it holds the task's claim, the lease is renewed (§18.3).
   */
  update(id: string, input: UpdateTaskInput, caller: string | null = null): Promise<TaskView> {
    return this.db.mutate((tx) => {
      const before = tx.get('tasks', id);
      if (!before) throw taskNotFound(id);
      const { updateSource, sessionId: reporter, sessionIds, dependencies, ...fields } = input;
      // An agent reporting through a session may only change sessionStatus (contract §3.3).
      const fromUser = updateSource === 'user';
      const task: Task = {
        ...renewed(before, caller ?? reporter, tx.now),
        ...definedOnly(fromUser ? fields : { sessionStatus: fields.sessionStatus }),
        updatedAt: tx.now,
      };
      if (fromUser && dependencies) task.dependencies = checkDependencies(tx, id, before.projectId, dependencies);
      if (task.status === 'in_progress' && task.startedAt === null) task.startedAt = tx.now;
      if (task.status === 'completed' && task.completedAt === null) task.completedAt = tx.now;

      const { added, removed } = fromUser && sessionIds ? diff(before.sessionIds, sessionIds) : { added: [], removed: [] };
      const missing = added.find((sid) => !tx.get('sessions', sid));
      if (missing) throw sessionNotFound(missing);
      if (fromUser && sessionIds) task.sessionIds = unique(sessionIds);
      tx.put('tasks', task);
      emitTask(tx, 'updated', task);
      for (const [sid, linked] of [...added.map((s) => [s, true] as const), ...removed.map((s) => [s, false] as const)]) {
        tx.emit(linked ? 'session:task_added' : 'session:task_removed', { sessionId: sid, taskId: id });
        tx.emit(linked ? 'task:session_added' : 'task:session_removed', { taskId: id, sessionId: sid });
        const session = tx.get('sessions', sid);
        if (session) tx.emit('session:updated', sessionWithTask(tx, session, id, linked));
      }
      announceDependents(tx, this.graph, before, task);
      return taskView(task, (tid) => tx.get('tasks', tid));
    });
  }

  remove(id: string): Promise<{ success: true; id: string }> {
    return this.db.mutate((tx) => {
      const task = tx.get('tasks', id);
      if (!task) throw taskNotFound(id);
      tx.remove('tasks', id);
      tx.emit('task:deleted', { id });
      if (task.parentId) tx.emit('subtask:deleted', { taskId: task.parentId, subtaskId: id });
      for (const sid of task.sessionIds) {
        const session = tx.get('sessions', sid);
        if (!session) continue;
        tx.emit('session:task_removed', { sessionId: sid, taskId: id });
        tx.emit('session:updated', sessionWithTask(tx, session, id, false));
      }
      dropDependency(tx, this.graph, id);
      return { success: true as const, id };
    });
  }

  #byIds(ids: ReadonlySet<string>): Task[] {
    return [...ids].map((id) => this.db.get('tasks', id)).filter((t): t is Task => t !== undefined);
  }
}
