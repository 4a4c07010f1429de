// In-memory indexes of the Db: tasks by project and by parent, sessions by project (the list filters).
import type { HistoryEntry, Session, Task } from '../domain/types.js';
import type { Collections, Kind } from './engine.js';

export type IndexName = 'tasksByProject' | 'tasksByParent' | 'sessionsByProject' | 'historyBySession';

/** IDs grouped by a key, in insertion order. */
export class Index {
  readonly #map = new Map<string, Set<string>>();
  add(key: string, id: string) {
    let ids = this.#map.get(key);
    if (!ids) this.#map.set(key, (ids = new Set()));
    ids.add(id);
  }
  delete(key: string, id: string) {
    const ids = this.#map.get(key);
    ids?.delete(id);
    if (ids?.size === 0) this.#map.delete(key);
  }
  get(key: string): ReadonlySet<string> {
    return this.#map.get(key) ?? new Set();
  }
}

/** The entity kind an index holds and the field it groups by. */
export const indexed = (index: IndexName): { kind: Kind; field: string } =>
  index === 'historyBySession'
    ? { kind: 'history', field: 'sessionId' }
    : { kind: index === 'sessionsByProject' ? 'sessions' : 'tasks', field: index === 'tasksByParent' ? 'parentId' : 'projectId' };

export class Indexes {
  readonly tasksByProject = new Index();
  readonly tasksByParent = new Index();
  readonly sessionsByProject = new Index();
  /** A session's archived timeline entries, oldest first (§24.9). */
  readonly historyBySession = new Index();

  /** Moves an entity between index keys. Only a changed key leaves its index: an update keeps its place in lists. */
  update(kind: Kind, id: string, before: Collections[Kind] | undefined, after: Collections[Kind] | null): void {
    if (kind === 'tasks') {
      const [b, a] = [before as Task | undefined, after as Task | null];
      if (b && b.projectId !== a?.projectId) this.tasksByProject.delete(b.projectId, id);
      if (b?.parentId && b.parentId !== a?.parentId) this.tasksByParent.delete(b.parentId, id);
      if (a) this.tasksByProject.add(a.projectId, id);
      if (a?.parentId) this.tasksByParent.add(a.parentId, id);
    } else if (kind === 'sessions') {
      const [b, a] = [before as Session | undefined, after as Session | null];
      if (b && b.projectId !== a?.projectId) this.sessionsByProject.delete(b.projectId, id);
      if (a) this.sessionsByProject.add(a.projectId, id);
    } else if (kind === 'history') {
      const [b, a] = [before as HistoryEntry | undefined, after as HistoryEntry | null];
      if (b && !a) this.historyBySession.delete(b.sessionId, id);
      if (a) this.historyBySession.add(a.sessionId, id);
    }
  }
}
