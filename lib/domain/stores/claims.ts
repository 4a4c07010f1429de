// Task claims with leases: claim, claim-next, release, and the sweep of expired ones (§18.3).
import { ApiError, projectNotFound, sessionNotFound, taskNotFound } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Db, Tx } from '../../storage/db.js';
import type { ClaimReleaseReason } from '../events.js';
import { isReady, type TaskGraph } from '../graph.js';
import type { ClaimInput, ClaimNextInput } from '../requests.js';
import { leaseHeldByRun } from '../spawn-claims.js';
import { blockedBy, isFinalSessionStatus, type Session, type Task, type TaskView, taskView } from '../types.js';
import { emitTask, sessionWithTask, taskWithSession } from './links.js';
import { bounded, timelineEntry } from './session-history.js';

/** How often claims are checked for an expired lease or an ended session: well within the contract's 1 s. */
export const SWEEP_INTERVAL_MS = 250;

const live = (task: Task, now: number) => (task.claim && task.claim.expiresAt > now ? task.claim : undefined);

/** `task` with its lease renewed to now + `leaseMs` when `sessionId` holds a live claim on it; else `task` itself. */
export function renewed(task: Task, sessionId: string | null | undefined, now: number): Task {
  const claim = live(task, now);
  if (!claim || !sessionId || claim.sessionId !== sessionId) return task;
  return { ...task, claim: { ...claim, expiresAt: now + claim.leaseMs }, updatedAt: now };
}

/**
 * How long after its last renewal a lease is renewed again by its session's activity elsewhere: a tenth of the lease,
 * at most a minute. An agent reporting every few seconds would otherwise rewrite each task it holds, and send its
 * `task:updated` to every dashboard, on every report, only to move `expiresAt` by those seconds.
 */
export const renewStep = (leaseMs: number) => Math.min(60_000, leaseMs / 10);

/**
 * Renews the leases `sessionId` holds (a request of the session touched it, §18.3), each with `task:updated`: those
 * renewed at least `renewStep` ago (the task itself touched renews its own lease at once, see `renewed`).
 */
export function renewLeases(tx: Tx, graph: TaskGraph, sessionId: string): void {
  for (const id of graph.claimsOf(sessionId)) {
    const task = tx.get('tasks', id);
    const claim = task && live(task, tx.now);
    if (!claim || claim.expiresAt > tx.now + claim.leaseMs - renewStep(claim.leaseMs)) continue;
    const updated = renewed(task, sessionId, tx.now);
    if (updated === task) continue;
    tx.put('tasks', updated);
    emitTask(tx, 'updated', updated);
  }
}

/** Removes a claim: back to `todo` unless closed, then `task:updated` and `task:claim_released`. */
function release(tx: Tx, task: Task & { claim: NonNullable<Task['claim']> }, reason: ClaimReleaseReason): Task {
  const { claim, ...rest } = task;
  const closed = task.status === 'completed' || task.status === 'cancelled';
  const updated: Task = { ...rest, status: closed ? task.status : 'todo', updatedAt: tx.now };
  tx.put('tasks', updated);
  emitTask(tx, 'updated', updated);
  tx.emit('task:claim_released', { taskId: task.id, sessionId: claim.sessionId, reason });
  return updated;
}

/**
 * "What is ready next", claims and leases (contract §18.2, §18.3). Each claim is one mutation that reads only
 * through its transaction, and mutations run one at a time, so of any number of concurrent claims exactly one
 * wins. The graph's ready index names the candidates for `next` and `claim-next`; each is re-checked through the
 * transaction, which also sees the claims of earlier mutations not yet applied.
 */
export class ClaimStore {
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly graph: TaskGraph,
    private readonly log: Logger,
  ) {
    // A session that ends or is deleted gives up its claims: noticed here, released by a follow-up mutation.
    db.onApply((kind, before, after) => {
      if (kind !== 'sessions' || !before) return;
      const [b, a] = [before as Session, after as Session | null];
      if ((!a || (isFinalSessionStatus(a.status) && !isFinalSessionStatus(b.status))) && graph.claimsOf(b.id).length > 0)
        queueMicrotask(() => void this.sweep());
    });
    this.#timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** `GET /api/tasks/next`: the first ready task of the project, or null. */
  next(projectId: string): { task: TaskView | null } {
    if (!this.db.get('projects', projectId)) throw projectNotFound(projectId);
    const lookup = (id: string) => this.db.get('tasks', id);
    for (const id of this.graph.readyIds(projectId)) {
      const task = lookup(id);
      if (task && isReady(task, lookup)) return { task: taskView(task, lookup) };
    }
    return { task: null };
  }

  /** `POST /api/tasks/:id/claim`. */
  claim(taskId: string, input: ClaimInput): Promise<TaskView> {
    return this.db.mutate((tx) => {
      const task = tx.get('tasks', taskId);
      if (!task) throw taskNotFound(taskId);
      return this.#claim(tx, task, this.#session(tx, input.sessionId, task.projectId), input.leaseMs);
    });
  }

  /** `POST /api/tasks/claim-next`: `next` and `claim` as one step. */
  claimNext(input: ClaimNextInput): Promise<{ task: TaskView | null }> {
    return this.db.mutate((tx) => {
      if (!tx.get('projects', input.projectId)) throw projectNotFound(input.projectId);
      const session = this.#session(tx, input.sessionId, input.projectId);
      const lookup = (id: string) => tx.get('tasks', id);
      for (const id of this.graph.readyIds(input.projectId)) {
        const task = lookup(id);
        if (task?.projectId === input.projectId && isReady(task, lookup)) return { task: this.#claim(tx, task, session, input.leaseMs) };
      }
      return { task: null };
    });
  }

  /** `DELETE /api/tasks/:id/claim` by the holder or a person (`caller` null). */
  release(taskId: string, caller: string | null): Promise<TaskView> {
    return this.db.mutate((tx) => {
      const task = tx.get('tasks', taskId);
      if (!task) throw taskNotFound(taskId);
      const lookup = (id: string) => tx.get('tasks', id);
      if (!task.claim) return taskView(task, lookup);
      if (caller !== null && caller !== task.claim.sessionId) {
        throw new ApiError(403, 'FORBIDDEN', 'Only the session holding the claim, or a person, may release it', {
          sessionId: caller,
          holder: task.claim.sessionId,
        });
      }
      return taskView(release(tx, { ...task, claim: task.claim }, 'released'), lookup);
    });
  }

  /**
   * Releases every claim whose lease ran out or whose session ended or is gone, and renews the leases of agents that
   * still run on a runner (§24.7). Run by a timer and after a session
   * change; tests call it directly with an injected clock. Resolves with the number of claims released.
   */
  async sweep(): Promise<number> {
    const now = this.db.now();
    const due = (taskId: string, get: <K extends 'tasks' | 'sessions'>(kind: K, id: string) => unknown) => {
      const task = get('tasks', taskId) as Task | undefined;
      if (!task?.claim) return undefined;
      const session = get('sessions', task.claim.sessionId) as Session | undefined;
      if (!session || isFinalSessionStatus(session.status)) return { task, reason: 'session_ended' as const };
      // §24.7: a spawned agent keeps its tasks while its run lasts.
      if (leaseHeldByRun(task, session, now)) return { task, reason: 'renew' as const };
      return task.claim.expiresAt <= now ? { task, reason: 'expired' as const } : undefined;
    };
    // A cheap look at committed state first, so that an idle server does not write anything.
    if (![...this.graph.claims().keys()].some((id) => due(id, (kind, key) => this.db.get(kind, key)))) return 0;
    try {
      return await this.db.mutate((tx) => {
        let released = 0;
        for (const id of this.graph.claims().keys()) {
          const hit = due(id, (kind, key) => tx.get(kind, key));
          if (!hit) continue;
          if (hit.reason === 'renew') {
            const task = { ...hit.task, claim: { ...hit.task.claim!, expiresAt: tx.now + hit.task.claim!.leaseMs }, updatedAt: tx.now };
            tx.put('tasks', task);
            emitTask(tx, 'updated', task);
            continue;
          }
          release(tx, { ...hit.task, claim: hit.task.claim! }, hit.reason);
          released++;
        }
        return released;
      });
    } catch (error) {
      this.log.error('Releasing expired claims failed', error);
      return 0;
    }
  }

  /** The claiming session: it exists, is active and belongs to the project. */
  #session(tx: Tx, sessionId: string, projectId: string): Session {
    const session = tx.get('sessions', sessionId);
    if (!session) throw sessionNotFound(sessionId);
    if (isFinalSessionStatus(session.status))
      throw new ApiError(400, 'SESSION_NOT_ACTIVE', `Session ${sessionId} has ended (${session.status})`, { sessionId });
    if (session.projectId !== projectId) {
      const message = `Session ${sessionId} belongs to another project than the task`;
      throw new ApiError(400, 'VALIDATION_ERROR', message, { issues: [{ path: 'sessionId', message }], sessionId });
    }
    return session;
  }

  #claim(tx: Tx, task: Task, session: Session, leaseMs: number): TaskView {
    const lookup = (id: string) => tx.get('tasks', id);
    if (task.status === 'completed' || task.status === 'cancelled') {
      throw new ApiError(409, 'TASK_CLOSED', `Task ${task.id} is ${task.status}`, { taskId: task.id, status: task.status });
    }
    const held = live(task, tx.now);
    if (held && held.sessionId !== session.id) {
      throw new ApiError(409, 'TASK_CLAIMED', `Task ${task.id} is claimed by session ${held.sessionId}`, {
        sessionId: held.sessionId,
        expiresAt: held.expiresAt,
      });
    }
    const blocked = blockedBy(task, lookup);
    // The IDs in the message too: an agent reading the CLI's text (not --json) learns what to wait for.
    if (blocked.length > 0) {
      throw new ApiError(409, 'TASK_BLOCKED', `Task ${task.id} has open dependencies: ${blocked.join(', ')}`, { blockedBy: blocked });
    }

    const claim = { sessionId: session.id, claimedAt: held?.claimedAt ?? tx.now, expiresAt: tx.now + leaseMs, leaseMs };
    if (held) {
      // The holder claims again: the lease is renewed, nothing else changes.
      const updated = { ...task, claim, updatedAt: tx.now };
      tx.put('tasks', updated);
      emitTask(tx, 'updated', updated);
      return taskView(updated, lookup);
    }
    if (task.claim) tx.emit('task:claim_released', { taskId: task.id, sessionId: task.claim.sessionId, reason: 'expired' });
    // Linked as the link endpoint does (§3.4): both sides, a timeline entry, the link events, then the entities.
    const linked = sessionWithTask(tx, session, task.id, true);
    const updatedSession: Session = bounded(tx, {
      ...linked,
      timeline: [...linked.timeline, timelineEntry(tx, { type: 'task_started', message: 'Added task to session', taskId: task.id })],
    });
    tx.put('sessions', updatedSession);
    const updated: Task = {
      ...taskWithSession(tx, task, session.id, true),
      claim,
      status: 'in_progress',
      startedAt: task.startedAt ?? tx.now,
    };
    tx.put('tasks', updated);
    tx.emit('session:task_added', { sessionId: session.id, taskId: task.id });
    tx.emit('task:session_added', { taskId: task.id, sessionId: session.id });
    tx.emit('session:updated', updatedSession);
    emitTask(tx, 'updated', updated);
    return taskView(updated, lookup);
  }
}
