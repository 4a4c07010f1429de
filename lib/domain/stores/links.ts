// The task ⇄ session mirror and the events that keep both sides in step (§2.8).
import type { Db, Tx } from '../../storage/db.js';
import { type Session, type Task, taskView } from '../types.js';

/*
 * The task↔session mirror (contract §2.8): `sid ∈ task.sessionIds` ⇔ `tid ∈ session.taskIds`.
 * Each helper changes one side inside a transaction and returns the stored entity; callers change both sides
 * and decide which events to emit.
 */

export function sessionWithTask(tx: Tx, session: Session, taskId: string, linked: boolean): Session {
  const updated = { ...session, taskIds: toggle(session.taskIds, taskId, linked), lastActivity: tx.now };
  tx.put('sessions', updated);
  return updated;
}

export function taskWithSession(tx: Tx, task: Task, sessionId: string, linked: boolean): Task {
  const updated = { ...task, sessionIds: toggle(task.sessionIds, sessionId, linked), updatedAt: tx.now };
  tx.put('tasks', updated);
  return updated;
}

/** Emits `task:created`/`task:updated` with the served form, and the `subtask:*` projection for a child task. */
export function emitTask(tx: Tx, change: 'created' | 'updated', task: Task): void {
  const view = taskView(task, (id) => tx.get('tasks', id));
  tx.emit(`task:${change}`, view);
  if (task.parentId) tx.emit(`subtask:${change}`, { taskId: task.parentId, subtask: view });
}

/** Items of `next` not in `prev`, and items of `prev` not in `next`. */
export function diff(prev: readonly string[], next: readonly string[]): { added: string[]; removed: string[] } {
  const before = new Set(prev);
  const after = new Set(next);
  return { added: [...after].filter((id) => !before.has(id)), removed: [...before].filter((id) => !after.has(id)) };
}

export const unique = (ids: readonly string[]): string[] => [...new Set(ids)];

/** Adds `id` once (keeping order) or removes it. */
const toggle = (ids: readonly string[], id: string, present: boolean) =>
  present ? (ids.includes(id) ? [...ids] : [...ids, id]) : ids.filter((x) => x !== id);

/**
 * Restores the mirror where files from older versions hold only one side of a link (a migrated session's
 * `taskId`, say): a link listed on either side, between two entities that exist, is put on both. Run at startup;
 * timestamps are left alone, since nothing happened to the entities.
 */
export function repairLinks(db: Db): Promise<number> {
  return db.mutate((tx) => {
    let repaired = 0;
    for (const { id, taskIds } of db.all('sessions')) {
      for (const task of taskIds.map((t) => tx.get('tasks', t))) {
        if (!task || task.sessionIds.includes(id)) continue;
        tx.put('tasks', { ...task, sessionIds: [...task.sessionIds, id] });
        repaired++;
      }
    }
    for (const { id, sessionIds } of db.all('tasks')) {
      for (const session of sessionIds.map((s) => tx.get('sessions', s))) {
        if (!session || session.taskIds.includes(id)) continue;
        tx.put('sessions', { ...session, taskIds: [...session.taskIds, id] });
        repaired++;
      }
    }
    return repaired;
  });
}
