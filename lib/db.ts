import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createStorage, type Storage } from 'unstorage';
import type { DomainEvent, EventHub, EventMap, EventName } from './events.js';
import { isId } from './ids.js';
import type { Logger } from './log.js';
import { durableFsDriver } from './storage/driver.js';
import { normalizeLoaded } from './storage/migrate.js';
import type { HostRecord, Project, QueueState, Session, SessionSecret, Task, Template } from './types.js';

export interface Collections {
  projects: Project;
  tasks: Task;
  sessions: Session;
  queues: QueueState;
  templates: Template;
  hosts: HostRecord;
  secrets: SessionSecret;
}
export type Kind = keyof Collections;
export const KINDS: readonly Kind[] = ['projects', 'tasks', 'sessions', 'queues', 'templates', 'hosts', 'secrets'];

const idOf = (kind: Kind, entity: Collections[Kind]) =>
  kind === 'queues' || kind === 'secrets'
    ? (entity as QueueState).sessionId
    : kind === 'hosts'
      ? (entity as HostRecord).name
      : (entity as { id: string }).id;

/** Host names (contract §15.1) may hold dots, unlike IDs. */
export const HOST_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const safeKeyPart = (kind: Kind, part: string) =>
  kind === 'hosts' ? HOST_NAME_PATTERN.test(part) && part !== '.' && part !== '..' : isId(part);

/** The storage key of an entity: the contract's file layout (§5), shared with the CLI. */
function keyOf(kind: Kind, entity: Collections[Kind]): string {
  const id = idOf(kind, entity);
  const parts = kind === 'tasks' ? [kind, (entity as Task).projectId, id] : [kind, id];
  if (!parts.slice(1).every((part) => safeKeyPart(kind, part))) throw new Error(`Refusing to store ${kind} entity under unsafe key ${parts.join(':')}`);
  return `${parts.join(':')}.json`;
}

/** A set of mutations applied together: reads see the transaction's own writes. */
export interface Tx {
  readonly now: number;
  get<K extends Kind>(kind: K, id: string): Collections[K] | undefined;
  put<K extends Kind>(kind: K, entity: Collections[K]): void;
  remove(kind: Kind, id: string): void;
  emit<E extends EventName>(type: E, data: EventMap[E]): void;
  /** IDs under `key` in one of the indexes, as this transaction sees them (pending changes included). */
  ids(index: IndexName, key: string): string[];
}

export type IndexName = 'tasksByProject' | 'tasksByParent' | 'sessionsByProject';
/** Called for every entity change once it is durable and applied in memory (derived indexes hang off this). */
export type ApplyListener = <K extends Kind>(kind: K, before: Collections[K] | undefined, after: Collections[K] | null) => void;

/** IDs grouped by a key, in insertion order. */
class Index {
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

/**
 * All entities, held in memory and written through to unstorage. The only code that knows storage keys.
 * Mutations run one at a time, in arrival order: each is written to disk, then applied in memory, then its events
 * are broadcast, so every event carries the state right after its own mutation (contract §1.7).
 */
export class Db {
  readonly #maps: { [K in Kind]: Map<string, Collections[K]> } = {
    projects: new Map(), tasks: new Map(), sessions: new Map(), queues: new Map(), templates: new Map(), hosts: new Map(),
    secrets: new Map(),
  };
  readonly tasksByProject = new Index();
  readonly tasksByParent = new Index();
  readonly sessionsByProject = new Index();
  /**
   * Files an entity was loaded from that are not where it belongs (a legacy `tasks/<id>.json`, a file named after
   * another ID): removed when the entity is next saved or deleted, so that a deleted entity cannot come back.
   */
  readonly #strayKeys = new Map<string, string[]>();
  #tail: Promise<unknown> = Promise.resolve();
  readonly #listeners: ApplyListener[] = [];

  private constructor(
    readonly storage: Storage,
    private readonly hub: EventHub,
    private readonly log: Logger,
    /** The clock every mutation reads (`tx.now`); tests inject one to move time without sleeping. */
    readonly now: () => number = Date.now,
  ) {}

  /** Registers a listener told of every change after it is durable and applied in memory. */
  onApply(listener: ApplyListener): void {
    this.#listeners.push(listener);
  }

  /** Opens the data directory, creating its sub-directories, and loads every entity into memory. */
  static async open(dataDir: string, hub: EventHub, log: Logger, now?: () => number): Promise<Db> {
    const db = new Db(createStorage({ driver: durableFsDriver({ base: dataDir }) }), hub, log, now);
    await Promise.all(KINDS.map((kind) => mkdir(join(dataDir, kind), { recursive: true })));
    for (const kind of KINDS) await db.#load(kind);
    return db;
  }

  get<K extends Kind>(kind: K, id: string): Collections[K] | undefined {
    return this.#maps[kind].get(id);
  }

  all<K extends Kind>(kind: K): IterableIterator<Collections[K]> {
    return this.#maps[kind].values();
  }

  count(kind: Kind): number {
    return this.#maps[kind].size;
  }

  /** Runs `build` alone, persists what it put and removed, applies it in memory, then broadcasts its events. */
  mutate<T>(build: (tx: Tx) => T): Promise<T> {
    const run = async () => {
      const changes = new Map<string, { kind: Kind; id: string; entity: Collections[Kind] | null }>();
      const events: DomainEvent[] = [];
      const tx: Tx = {
        now: this.now(),
        get: <K extends Kind>(kind: K, id: string) => {
          const change = changes.get(`${kind}/${id}`);
          return change ? ((change.entity ?? undefined) as Collections[K] | undefined) : this.#maps[kind].get(id);
        },
        put: (kind, entity) => void changes.set(`${kind}/${idOf(kind, entity)}`, { kind, id: idOf(kind, entity), entity }),
        remove: (kind, id) => void changes.set(`${kind}/${id}`, { kind, id, entity: null }),
        emit: (type, data) => void events.push({ type, data } as DomainEvent),
        ids: (index, key) => {
          const kind = index === 'sessionsByProject' ? 'sessions' : 'tasks';
          const field = index === 'tasksByParent' ? 'parentId' : 'projectId';
          const ids = new Set(this[index].get(key));
          for (const change of changes.values()) {
            if (change.kind !== kind) continue;
            const entity = change.entity as Record<string, unknown> | null;
            if (entity?.[field] === key) ids.add(change.id);
            else ids.delete(change.id);
          }
          return [...ids];
        },
      };
      const result = build(tx);
      await Promise.all([...changes.values()].map((c) => this.#persist(c.kind, c.id, c.entity)));
      for (const { kind, id, entity } of changes.values()) this.#apply(kind, id, entity);
      this.hub.publish(events);
      return result;
    };
    const done = this.#tail.then(run);
    this.#tail = done.catch(() => {});
    return done;
  }

  async #persist(kind: Kind, id: string, entity: Collections[Kind] | null): Promise<void> {
    const current = this.#maps[kind].get(id);
    if (entity) await this.storage.setItem(keyOf(kind, entity), `${JSON.stringify(entity, null, 2)}\n`);
    else if (current) await this.storage.removeItem(keyOf(kind, current));
    const stray = this.#strayKeys.get(`${kind}/${id}`);
    if (stray) {
      await Promise.all(stray.map((key) => this.storage.removeItem(key)));
      this.#strayKeys.delete(`${kind}/${id}`);
    }
  }

  #apply(kind: Kind, id: string, entity: Collections[Kind] | null): void {
    const map = this.#maps[kind] as Map<string, Collections[Kind]>;
    const before = map.get(id);
    if (entity) map.set(id, entity);
    else map.delete(id);
    for (const listener of this.#listeners) listener(kind, before, entity);
    if (kind === 'tasks') {
      // Only a changed key leaves its index: an update must not move the entity to the end of filtered lists.
      const [b, a] = [before as Task | undefined, entity as Task | null];
      if (b && b.projectId !== a?.projectId) this.tasksByProject.delete(b.projectId, id);
      if (b?.parentId && b.parentId !== a?.parentId) this.tasksByParent.delete(b.parentId, id);
      if (a) this.tasksByProject.add(a.projectId, id);
      if (a?.parentId) this.tasksByParent.add(a.parentId, id);
    } else if (kind === 'sessions') {
      const [b, a] = [before as Session | undefined, entity as Session | null];
      if (b && b.projectId !== a?.projectId) this.sessionsByProject.delete(b.projectId, id);
      if (a) this.sessionsByProject.add(a.projectId, id);
    }
  }

  async #load(kind: Kind): Promise<void> {
    const keys = (await this.storage.getKeys(kind)).filter((key) => key.endsWith('.json'));
    const loaded = await Promise.all(
      keys.map(async (key) => {
        try {
          const raw = await this.storage.getItemRaw(key);
          const parsed: unknown = JSON.parse(String(raw));
          const result = normalizeLoaded(kind, parsed);
          if (!result) this.log.warn(`Skipping ${key.replaceAll(':', '/')}: not a valid ${kind} entity`);
          return result && { key, ...result };
        } catch (error) {
          this.log.warn(`Skipping ${key.replaceAll(':', '/')}: ${(error as Error).message}`);
          return undefined;
        }
      }),
    );
    // The file where an entity belongs wins over stray copies (a legacy task file, a misnamed file), and every
    // stray copy is remembered so that the entity's next save or delete removes it: a crash between writing the
    // new file and unlinking the old one can leave both (§5).
    const byId = new Map<string, NonNullable<(typeof loaded)[number]>>();
    for (const entry of loaded) {
      if (!entry) continue;
      const home = entry.key === keyOf(kind, entry.entity);
      if (!home) this.#strayKeys.set(`${kind}/${entry.id}`, [...(this.#strayKeys.get(`${kind}/${entry.id}`) ?? []), entry.key]);
      const held = byId.get(entry.id);
      if (!held || (home && held.key !== keyOf(kind, held.entity))) byId.set(entry.id, entry);
    }
    const entries = [...byId.values()].sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : 1));
    const resave: Collections[Kind][] = [];
    for (const { id, entity, migrated } of entries) {
      this.#apply(kind, id, entity);
      if (migrated) resave.push(entity);
    }
    if (resave.length) {
      this.log.info(`Migrating ${resave.length} legacy ${kind} file(s) to the current layout`);
      await this.mutate((tx) => resave.forEach((entity) => tx.put(kind, entity)));
    }
  }
}
