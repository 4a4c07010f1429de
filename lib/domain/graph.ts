// The task graph: ready work, what a task waits for, and the order `next` picks (§18).
import type { Db } from '../storage/db.js';
import { blockedBy, type Task, type TaskClaim, type TaskPriority } from './types.js';

const RANKS: readonly TaskPriority[] = ['high', 'medium', 'low'];

/** Unknown priorities (legacy files) rank as `medium`. */
const rankOf = (priority: TaskPriority) => (RANKS.includes(priority) ? RANKS.indexOf(priority) : 1);

/** What a ready list orders by: the task itself (`next` order is oldest `createdAt`, then smallest ID). */
type Entry = Pick<Task, 'createdAt' | 'id'>;
const compare = (a: Entry, b: Entry) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Tasks kept in `next` order; binary search to insert, delete and replace. */
class SortedEntries {
  readonly items: Task[] = [];
  #at(entry: Entry): number {
    let [lo, hi] = [0, this.items.length];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.items[mid]!, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  add(task: Task) {
    // Tasks load, and are mostly created, in `next` order: at the end, no search.
    const last = this.items.at(-1);
    if (!last || compare(last, task) < 0) this.items.push(task);
    else this.items.splice(this.#at(task), 0, task);
  }
  delete(entry: Entry) {
    const i = this.#find(entry);
    if (i !== -1) this.items.splice(i, 1);
  }
  /** Puts `task` where its older version is (same `createdAt` and ID, so the same place). */
  replace(task: Task) {
    const i = this.#find(task);
    if (i !== -1) this.items[i] = task;
  }
  #find(entry: Entry): number {
    const i = this.#at(entry);
    return this.items[i]?.id === entry.id ? i : -1;
  }
}

/** Whether a task is ready (contract §18.1): `todo`, no open dependency, no claim. */
export const isReady = (task: Task, lookup: (id: string) => Task | undefined) =>
  task.status === 'todo' && task.claim === undefined && blockedBy(task, lookup).length === 0;

/**
 * Derived, in-memory indexes of the task graph, kept up to date by `db.onApply` (never stored): who depends on a
 * task, each project's ready tasks in `next` order, and the live claims by session. They reflect committed state;
 * code inside a mutation uses them to find candidates and checks each one through the transaction.
 */
export class TaskGraph {
  readonly #dependents = new Map<string, Set<string>>();
  /** Per project, one sorted list per priority, high first. */
  readonly #ready = new Map<string, SortedEntries[]>();
  /** Each ready task as its list holds it (which tells where), to take it out again when it changes. */
  readonly #readyAt = new Map<string, Task>();
  readonly #claims = new Map<string, TaskClaim>();
  readonly #claimsBySession = new Map<string, Set<string>>();

  constructor(private readonly db: Db) {
    for (const task of db.all('tasks')) this.#edges(undefined, task);
    for (const task of db.all('tasks')) {
      this.#claim(undefined, task);
      this.#refresh(task.id, task);
    }
    db.onApply((kind, before, after) => {
      if (kind === 'tasks') this.#onTask(before as Task | undefined, after as Task | null);
    });
  }

  /** IDs of the tasks that list `id` among their dependencies. */
  dependents(id: string): ReadonlySet<string> {
    return this.#dependents.get(id) ?? new Set();
  }

  /** A project's ready task IDs in `next` order: highest priority, oldest `createdAt`, smallest ID. */
  *readyIds(projectId: string): Generator<string> {
    for (const list of this.#ready.get(projectId) ?? []) for (const { id } of list.items) yield id;
  }

  /** Every claim, by task ID. */
  claims(): ReadonlyMap<string, TaskClaim> {
    return this.#claims;
  }

  /** IDs of the tasks `sessionId` holds a claim on. */
  claimsOf(sessionId: string): string[] {
    return [...(this.#claimsBySession.get(sessionId) ?? [])];
  }

  #onTask(before: Task | undefined, after: Task | null) {
    const id = (after ?? before)!.id;
    this.#edges(before, after);
    this.#claim(before, after);
    this.#refresh(id);
    // A blocker that completes, reopens, appears or goes away changes its dependents' readiness.
    if (!before || !after || before.status !== after.status) for (const d of this.dependents(id)) this.#refresh(d);
  }

  #edges(before: Task | undefined, after: Task | null) {
    const id = (after ?? before)!.id;
    for (const dep of before?.dependencies ?? []) {
      const set = this.#dependents.get(dep);
      set?.delete(id);
      if (set?.size === 0) this.#dependents.delete(dep);
    }
    for (const dep of after?.dependencies ?? []) {
      let set = this.#dependents.get(dep);
      if (!set) this.#dependents.set(dep, (set = new Set()));
      set.add(id);
    }
  }

  #claim(before: Task | undefined, after: Task | null) {
    const id = (after ?? before)!.id;
    if (before?.claim) {
      this.#claims.delete(id);
      const set = this.#claimsBySession.get(before.claim.sessionId);
      set?.delete(id);
      if (set?.size === 0) this.#claimsBySession.delete(before.claim.sessionId);
    }
    if (after?.claim) {
      this.#claims.set(id, after.claim);
      let set = this.#claimsBySession.get(after.claim.sessionId);
      if (!set) this.#claimsBySession.set(after.claim.sessionId, (set = new Set()));
      set.add(id);
    }
  }

  /** Puts a task into, or takes it out of, its project's ready list, from the committed state. */
  #refresh(id: string, task = this.db.get('tasks', id)) {
    const ready = task !== undefined && isReady(task, (dep) => this.db.get('tasks', dep));
    const held = this.#readyAt.get(id);
    if (ready && held === task) return;
    const rank = task ? rankOf(task.priority) : 0;
    if (held) {
      const heldRank = rankOf(held.priority);
      const list = this.#ready.get(held.projectId)?.[heldRank];
      const moved = !ready || held.projectId !== task.projectId || heldRank !== rank || held.createdAt !== task.createdAt;
      if (!moved) {
        // Same place: the list holds the new version, not the old one.
        list?.replace(task);
        this.#readyAt.set(id, task);
        return;
      }
      list?.delete(held);
      this.#readyAt.delete(id);
    }
    if (!ready) return;
    let lists = this.#ready.get(task.projectId);
    if (!lists) this.#ready.set(task.projectId, (lists = RANKS.map(() => new SortedEntries())));
    lists[rank]!.add(task);
    this.#readyAt.set(id, task);
  }
}
