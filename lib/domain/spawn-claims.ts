// A spawn that launches on a runner takes its tasks (contract §24.7): the refusal before, the claims after, the lease.
import { ApiError } from '../errors.js';
import type { Tx } from '../storage/db.js';
import { emitTask } from './stores/links.js';
import { isFinalSessionStatus, type Session, type Task } from './types.js';

/** The lease of a spawn's claims: §18.2's default; renewed while the agent's run lasts. */
export const SPAWN_LEASE_MS = 900_000;

const isClosed = (task: Task) => task.status === 'completed' || task.status === 'cancelled';

/** The session holding a live claim on `task`, when it is another live session than `sessionId`. */
function otherHolder(tx: Tx, task: Task, sessionId?: string): Session | undefined {
  const claim = task.claim;
  if (!claim || claim.expiresAt <= tx.now || claim.sessionId === sessionId) return undefined;
  const holder = tx.get('sessions', claim.sessionId);
  return holder && !isFinalSessionStatus(holder.status) ? holder : undefined;
}

/**
 * 409 `TASK_CLAIMED` when another live session holds one of the tasks: thrown before the spawn creates anything.
 * The spawning session's own claims are not in the way: an orchestrator that claimed a task and spawns a worker
 * for it hands the claim to that worker (its template's claim loop does exactly that).
 */
export function refuseClaimedTasks(tx: Tx, taskIds: string[], parentSessionId?: string | null): void {
  for (const taskId of taskIds) {
    const task = tx.get('tasks', taskId);
    const holder = task && otherHolder(tx, task);
    if (!task?.claim || !holder || holder.id === parentSessionId) continue;
    throw new ApiError(409, 'TASK_CLAIMED', `Task ${taskId} is claimed by session ${holder.id}`, {
      taskId,
      sessionId: holder.id,
      expiresAt: task.claim.expiresAt,
    });
  }
}

/**
 * Claims each task that is not closed for the spawned session as §18.2 would (the spawn already linked them): the
 * claim, status `in_progress`, `startedAt`; `task:updated` each, after the spawn's own events. A claim left by an
 * ended session or a lapsed lease is released first, as a claim would, and so is the spawning parent's own.
 */
export function claimSpawnedTasks(tx: Tx, sessionId: string, taskIds: string[]): void {
  for (const taskId of taskIds) {
    const task = tx.get('tasks', taskId);
    if (!task || isClosed(task)) continue;
    const previous = task.claim;
    if (previous && previous.sessionId !== sessionId) {
      const holder = tx.get('sessions', previous.sessionId);
      // A live holder with a running lease is the spawning parent handing its claim over (refuseClaimedTasks).
      const reason =
        !holder || isFinalSessionStatus(holder.status) ? 'session_ended' : previous.expiresAt <= tx.now ? 'expired' : 'released';
      tx.emit('task:claim_released', { taskId, sessionId: previous.sessionId, reason });
    }
    const updated: Task = {
      ...task,
      claim: { sessionId, claimedAt: tx.now, expiresAt: tx.now + SPAWN_LEASE_MS, leaseMs: SPAWN_LEASE_MS },
      status: 'in_progress',
      startedAt: task.startedAt ?? tx.now,
      updatedAt: tx.now,
    };
    tx.put('tasks', updated);
    emitTask(tx, 'updated', updated);
  }
}

/**
 * True when the claim's lease should be renewed because its agent still runs on a runner (launched, or waiting for
 * its host): an agent thinking for longer than its lease without calling the API keeps its task. Renewed at half
 * the lease, so the claim never lapses in between.
 */
export function leaseHeldByRun(task: Task, session: Session | undefined, now: number): boolean {
  const run = session?.run;
  if (!task.claim || !session || isFinalSessionStatus(session.status) || !run) return false;
  if (run.state !== 'running' && run.state !== 'pending') return false;
  return task.claim.expiresAt - now < task.claim.leaseMs / 2;
}
