// A mutation's transaction: reads see its own writes and its batch's earlier ones; writes and events are recorded.
import { type Actor, SYSTEM } from '../domain/actor.js';
import { type Emitted, type EventMap, type EventName, projectOf } from '../domain/events.js';
import { type Change, type Collections, idOf, type Kind } from './engine.js';
import { type Indexes, type IndexName, indexed } from './indexes.js';

/** A set of mutations applied together: reads see the transaction's own writes. */
export interface Tx {
  readonly now: number;
  /** Who asked for this mutation (§23): on each of its events, and on timeline entries it adds. */
  readonly actor: Actor;
  get<K extends Kind>(kind: K, id: string): Collections[K] | undefined;
  put<K extends Kind>(kind: K, entity: Collections[K]): void;
  remove(kind: Kind, id: string): void;
  emit<E extends EventName>(type: E, data: EventMap[E]): void;
  /** IDs under `key` in one of the indexes, as this transaction sees them (pending changes included). */
  ids(index: IndexName, key: string): string[];
}

/** What a transaction reads through: the Db's view (batch changes included) and the committed state. */
export interface TxSource {
  get<K extends Kind>(kind: K, id: string): Collections[K] | undefined;
  committed<K extends Kind>(kind: K, id: string): Collections[K] | undefined;
  readonly indexes: Indexes;
}

/** Builds the `Tx` of one mutation: `own` collects its changes, `emitted` its events; `batch` holds the earlier ones. */
export function createTx(
  source: TxSource,
  now: number,
  own: Map<string, Change>,
  batch: Map<string, Change>,
  emitted: Emitted[],
  actor: Actor = SYSTEM,
): Tx {
  const record = (kind: Kind, id: string, entity: Collections[Kind] | null) => {
    const key = `${kind}/${id}`;
    const before = own.get(key)?.before ?? batch.get(key)?.before ?? source.committed(kind, id);
    own.set(key, { kind, id, entity, before });
  };
  const tx: Tx = {
    now,
    actor,
    get: (kind, id) => source.get(kind, id),
    put: (kind, entity) => record(kind, idOf(kind, entity), entity),
    remove: (kind, id) => record(kind, id, null),
    emit: (type, data) => {
      // A deleted entity is gone from the transaction's view but still tells which project its event concerns.
      const lookup = (kind: Kind, id: string) => (tx.get(kind, id) ?? source.committed(kind, id)) as { projectId?: string } | undefined;
      emitted.push({ type, data, projectId: projectOf(type, data, lookup), timestamp: now, actor } as Emitted);
    },
    ids: (index, key) => {
      const { kind, field } = indexed(index);
      const ids = new Set(source.indexes[index].get(key));
      for (const changes of [batch, own]) {
        for (const change of changes.values()) {
          if (change.kind !== kind) continue;
          if ((change.entity as Record<string, unknown> | null)?.[field] === key) ids.add(change.id);
          else ids.delete(change.id);
        }
      }
      return [...ids];
    },
  };
  return tx;
}
