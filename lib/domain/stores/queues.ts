// The queue store: a queue session's items and their steps (§8).
import { notFound, validationError } from '../../errors.js';
import type { Db, Tx } from '../../storage/db.js';
import type { QueueItem, QueueState, Session, TaskSessionStatus, TimelineType } from '../types.js';
import { emitTask } from './links.js';
import { bounded, timelineEntry } from './session-history.js';

export interface QueueStats {
  total: number;
  queued: number;
  processing: number;
  completed: number;
  failed: number;
  skipped: number;
}

type Finish = 'completed' | 'failed' | 'skipped';
const VERB: Record<Finish, string> = { completed: 'Completed', failed: 'Failed', skipped: 'Skipped' };
const KEY = { completed: 'completedItem', failed: 'failedItem', skipped: 'skippedItem' } as const;
const TIMELINE: Record<Finish, TimelineType> = { completed: 'task_completed', failed: 'task_failed', skipped: 'task_skipped' };

export const queueStats = (queue: QueueState): QueueStats => {
  const stats = { total: queue.items.length, queued: 0, processing: 0, completed: 0, failed: 0, skipped: 0 };
  for (const item of queue.items) stats[item.status]++;
  return stats;
};

const nextQueued = (queue: QueueState) => queue.items.find((i) => i.status === 'queued') ?? null;

/** A new queue for a session spawned with strategy `queue`: every task queued, in order (contract §8). */
export function newQueue(tx: Tx, session: Session): QueueState {
  const queue: QueueState = {
    sessionId: session.id,
    strategy: 'queue',
    items: session.taskIds.map((taskId) => ({ taskId, status: 'queued', addedAt: tx.now })),
    currentIndex: -1,
    createdAt: tx.now,
    updatedAt: tx.now,
  };
  tx.put('queues', queue);
  return queue;
}

/** The queue state machine of contract §8, with its checks (§3.5) and events ([OP-22]). */
export class QueueStore {
  constructor(private readonly db: Db) {}

  /** The common checks, in order: the session exists, uses the queue strategy, and has a queue. */
  get(sessionId: string): QueueState {
    const session = this.db.get('sessions', sessionId);
    if (!session) throw notFound('Session not found', { sessionId });
    if (session.strategy !== 'queue') throw validationError(`Session ${sessionId} does not use queue strategy`, { sessionId });
    const queue = this.db.get('queues', sessionId);
    if (!queue) throw notFound('Queue not found', { sessionId });
    return queue;
  }

  read(sessionId: string) {
    const queue = this.get(sessionId);
    return { queue, stats: queueStats(queue) };
  }

  top(sessionId: string) {
    const item = nextQueued(this.get(sessionId));
    return item ? { hasMore: true, item } : { hasMore: false, item: null, message: 'Queue is empty - all tasks processed' };
  }

  start(sessionId: string) {
    return this.#change(sessionId, (queue, tx) => {
      const index = queue.items.findIndex((i) => i.status === 'queued');
      if (index === -1) return { success: true, item: null, empty: true, message: 'Queue is empty — no items to process' };
      const current = queue.items[queue.currentIndex];
      if (current?.status === 'processing') {
        throw validationError(`Already processing task ${current.taskId}. Complete or fail it first.`, { taskId: current.taskId });
      }
      const item: QueueItem = { ...queue.items[index]!, status: 'processing', startedAt: tx.now };
      this.#save(tx, queue, index, item, index);
      tx.emit('queue:item_started', { sessionId, taskId: item.taskId, item });
      this.#afterChange(tx, sessionId, item.taskId, 'working', { type: 'task_started', message: `Started processing task ${item.taskId}` });
      return { success: true, item, message: `Started processing task ${item.taskId}` };
    });
  }

  complete(sessionId: string) {
    return this.#finish(sessionId, 'completed');
  }

  fail(sessionId: string, reason?: string) {
    return this.#finish(sessionId, 'failed', reason);
  }

  skip(sessionId: string) {
    return this.#finish(sessionId, 'skipped');
  }

  push(sessionId: string, taskId: string | undefined) {
    return this.#change(sessionId, (queue, tx) => {
      if (!taskId?.trim()) throw validationError('taskId is required');
      if (!tx.get('tasks', taskId)) throw notFound('Task not found', { taskId });
      if (queue.items.some((i) => i.taskId === taskId)) throw validationError(`Task ${taskId} already in queue`, { taskId });
      const item: QueueItem = { taskId, status: 'queued', addedAt: tx.now };
      this.#save(tx, queue, queue.items.length, item, queue.currentIndex);
      tx.emit('queue:item_pushed', { sessionId, taskId, item });
      this.#afterChange(tx, sessionId);
      return { success: true, item };
    });
  }

  /** complete / fail / skip: the processing item (skip also takes the first queued one) ends with `status`. */
  #finish(sessionId: string, status: Finish, reason?: string) {
    return this.#change(sessionId, (queue, tx) => {
      const processing = queue.items[queue.currentIndex]?.status === 'processing' ? queue.currentIndex : -1;
      const index = processing !== -1 || status !== 'skipped' ? processing : queue.items.findIndex((i) => i.status === 'queued');
      if (index === -1) {
        throw validationError(
          status === 'skipped' ? 'No items left in queue to skip' : 'No item currently being processed. Run "start" first.',
        );
      }
      const item: QueueItem = {
        ...queue.items[index]!,
        status,
        completedAt: tx.now,
        ...(status === 'failed' && reason !== undefined && { failReason: reason }),
      };
      const updated = this.#save(tx, queue, index, item, -1);
      if (status === 'failed')
        tx.emit('queue:item_failed', { sessionId, taskId: item.taskId, item, ...(reason !== undefined && { reason }) });
      else tx.emit(status === 'completed' ? 'queue:item_completed' : 'queue:item_skipped', { sessionId, taskId: item.taskId, item });
      const message = `${VERB[status]} task ${item.taskId}${status === 'failed' && reason ? `: ${reason}` : ''}`;
      this.#afterChange(tx, sessionId, item.taskId, status, { type: TIMELINE[status], message });
      const next = nextQueued(updated);
      return {
        success: true,
        [KEY[status]]: item,
        nextItem: next,
        hasMore: next !== null,
        message: `${VERB[status]} ${item.taskId}. ${next ? `Next: ${next.taskId}` : 'Queue is empty.'}`,
      };
    });
  }

  #change<T>(sessionId: string, change: (queue: QueueState, tx: Tx) => T): Promise<T> {
    return this.db.mutate((tx) => change(this.get(sessionId), tx));
  }

  #save(tx: Tx, queue: QueueState, index: number, item: QueueItem, currentIndex: number): QueueState {
    const items = [...queue.items];
    items[index] = item;
    const updated: QueueState = { ...queue, items, currentIndex, updatedAt: tx.now };
    tx.put('queues', updated);
    return updated;
  }

  /**
   * `queue:updated` after every change, then the task whose `sessionStatus` the change set, then the session whose
   * timeline records the step (contract §18.4).
   */
  #afterChange(
    tx: Tx,
    sessionId: string,
    taskId?: string,
    sessionStatus?: TaskSessionStatus,
    step?: { type: TimelineType; message: string },
  ) {
    tx.emit('queue:updated', { sessionId, queue: tx.get('queues', sessionId)! });
    const task = taskId && sessionStatus ? tx.get('tasks', taskId) : undefined;
    if (task && sessionStatus) {
      const updated = { ...task, sessionStatus, updatedAt: tx.now };
      tx.put('tasks', updated);
      emitTask(tx, 'updated', updated);
    }
    const session = step && tx.get('sessions', sessionId);
    if (session && step) {
      const entry = timelineEntry(tx, { type: step.type, message: step.message, ...(taskId && { taskId }) });
      const updated: Session = bounded(tx, { ...session, timeline: [...session.timeline, entry], lastActivity: tx.now });
      tx.put('sessions', updated);
      tx.emit('session:updated', updated);
    }
  }
}
