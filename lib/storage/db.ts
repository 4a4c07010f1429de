import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createStorage, type Storage } from 'unstorage';
import { type Emitted, type EventHub, type EventMap, type EventName, type Published, projectOf } from '../domain/events.js';
import type { HostRecord, Message, Project, QueueState, Session, SessionSecret, Task, Template } from '../domain/types.js';
import { ApiError } from '../errors.js';
import { isId } from '../ids.js';
import type { Logger } from '../log.js';
import { HOST_NAME_PATTERN } from '../runner-protocol.js';
import { durableFsDriver, settleAll } from './driver.js';
import { type EventLog, FileEventLog } from './event-log.js';
import { normalizeLoaded } from './migrate.js';

export interface Collections {
  projects: Project;
  tasks: Task;
  sessions: Session;
  queues: QueueState;
  templates: Template;
  messages: Message;
  hosts: HostRecord;
  secrets: SessionSecret;
}
export type Kind = keyof Collections;
export const KINDS: readonly Kind[] = ['projects', 'tasks', 'sessions', 'queues', 'templates', 'messages', 'hosts', 'secrets'];

const idOf = (kind: Kind, entity: Collections[Kind]) =>
  kind === 'queues' || kind === 'secrets'
    ? (entity as QueueState).sessionId
    : kind === 'hosts'
      ? (entity as HostRecord).name
      : (entity as { id: string }).id;

/** Host names (contract §15.1) may hold dots, unlike IDs. */
const safeKeyPart = (kind: Kind, part: string) =>
  kind === 'hosts' ? HOST_NAME_PATTERN.test(part) && part !== '.' && part !== '..' : isId(part);

/** Pretty-printing beyond this size must not cost more than twice the compact form. */
const PRETTY_FREE_BYTES = 64 * 1024;

/**
 * An entity's file (§5: 2-space JSON), with the indentation bounded (issue 21 item 12): deep nesting around many tiny
 * values would make a 1 MiB request a 60 MB file, so a large entity whose indentation more than doubles it is
 * written compact. Either form is the same JSON to every reader.
 */
export function entityText(entity: unknown): string {
  const pretty = JSON.stringify(entity, null, 2);
  if (pretty.length <= PRETTY_FREE_BYTES) return `${pretty}\n`;
  const compact = JSON.stringify(entity);
  return `${pretty.length > 2 * compact.length ? compact : pretty}\n`;
}

/** The storage key of an entity: the contract's file layout (§5), shared with the CLI. */
function keyOf(kind: Kind, entity: Collections[Kind]): string {
  const id = idOf(kind, entity);
  const parts =
    kind === 'tasks'
      ? [kind, (entity as Task).projectId, id]
      : kind === 'messages'
        ? [kind, 'by-receiver', (entity as Message).to, id]
        : [kind, id];
  if (!parts.slice(1).every((part) => safeKeyPart(kind, part)))
    throw new Error(`Refusing to store ${kind} entity under unsafe key ${parts.join(':')}`);
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

type Change = { kind: Kind; id: string; entity: Collections[Kind] | null };
interface Queued {
  build: (tx: Tx) => unknown;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
}

/** What `Db.open` needs: where entities and events are kept, who hears of changes, and the clock. */
export interface DbOptions {
  storage: Storage;
  events: EventLog;
  hub: EventHub;
  log: Logger;
  now?: () => number;
  /** Called when a failed flush could not be undone: disk and memory may disagree, so the process must stop. */
  onFatal?: (error: unknown) => void;
}

/** The storage and event log of a data directory, as the server uses them. */
export function dataDirStorage(dataDir: string): { storage: Storage; events: FileEventLog } {
  // The layout exists from the start, for people and tools that read the files (§5).
  for (const kind of KINDS) mkdirSync(join(dataDir, kind), { recursive: true });
  return {
    storage: createStorage({ driver: durableFsDriver({ base: dataDir }) }),
    events: FileEventLog.open(join(dataDir, 'events')),
  };
}

const storageFailed = (cause: unknown) => new ApiError(500, 'INTERNAL_ERROR', 'Internal server error', undefined, { cause });

const isThenable = (value: unknown): boolean => typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * All entities, held in memory and written through to unstorage. The only code that knows storage keys.
 *
 * Mutations run one at a time in arrival order, each seeing the result of the ones before (group commit, as in
 * SQLite's WAL or PostgreSQL's `commit_delay`): every mutation that arrives while a flush is running joins the next
 * flush. One flush writes the batch's entity files and then its event-log lines; only once both are durable are the
 * changes applied in memory, the events broadcast and the callers answered. So no reader ever sees a change before it
 * is on disk, and every logged event belongs to a change that is (contract §1.7, §17).
 *
 * A flush that fails answers every mutation of its batch with 500 and applies none of them. Every write of the batch
 * is settled first, then the files and the log are put back as they were; if that fails too, disk and memory could
 * disagree, so `onFatal` stops the server.
 */
export class Db {
  readonly #maps: { [K in Kind]: Map<string, Collections[K]> } = {
    projects: new Map(),
    tasks: new Map(),
    sessions: new Map(),
    queues: new Map(),
    templates: new Map(),
    messages: new Map(),
    hosts: new Map(),
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
  readonly #listeners: ApplyListener[] = [];
  readonly #queue: Queued[] = [];
  /** The running drain of the queue, if any. */
  #draining: Promise<void> | undefined;
  #closed = false;
  /** Set once storage failed beyond repair: every later mutation is refused. */
  #broken: unknown;
  /** While a build runs: its own changes, then the changes of the earlier builds of its batch. */
  #active: { own: Map<string, Change>; batch: Map<string, Change> } | null = null;
  readonly storage: Storage;
  readonly events: EventLog;
  readonly #hub: EventHub;
  readonly #log: Logger;
  readonly #onFatal: (error: unknown) => void;
  /** The clock every mutation reads (`tx.now`); tests inject one to move time without sleeping. */
  readonly now: () => number;
  /** Flushes and the mutations they carried, for the benchmarks. */
  readonly stats = { flushes: 0, mutations: 0, largestBatch: 0 };

  private constructor(options: DbOptions) {
    this.storage = options.storage;
    this.events = options.events;
    this.#hub = options.hub;
    this.#log = options.log;
    this.now = options.now ?? Date.now;
    this.#onFatal = options.onFatal ?? (() => {});
  }

  /** Loads every entity into memory; the hub continues `seq` from the event log. */
  static async open(options: DbOptions): Promise<Db> {
    const db = new Db(options);
    options.hub.attach(options.events);
    for (const kind of KINDS) await db.#load(kind);
    return db;
  }

  /** Registers a listener told of every change after it is durable and applied in memory. */
  onApply(listener: ApplyListener): void {
    this.#listeners.push(listener);
  }

  /** The committed entity; inside a mutation's build, the entity as that mutation sees it. */
  get<K extends Kind>(kind: K, id: string): Collections[K] | undefined {
    const key = `${kind}/${id}`;
    const change = this.#active?.own.get(key) ?? this.#active?.batch.get(key);
    if (change) return (change.entity ?? undefined) as Collections[K] | undefined;
    return this.#maps[kind].get(id);
  }

  all<K extends Kind>(kind: K): IterableIterator<Collections[K]> {
    return this.#maps[kind].values();
  }

  count(kind: Kind): number {
    return this.#maps[kind].size;
  }

  /**
   * Runs `build` (synchronous: it only reads and records) after every mutation before it, then resolves with its
   * result once its changes are durable, applied and broadcast. A `build` that throws changes nothing.
   */
  mutate<T>(build: (tx: Tx) => T): Promise<T> {
    if (this.#closed) return Promise.reject(new ApiError(500, 'INTERNAL_ERROR', 'The server is shutting down'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ build, resolve, reject });
      if (!this.#draining) {
        this.#draining = new Promise<void>((done) =>
          // Mutations requested in the same tick join the first batch too.
          queueMicrotask(() => void this.#drain().finally(done)),
        );
      }
    });
  }

  /** Finishes the mutations already asked for, refuses later ones, and closes the event log. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
    await this.events.close();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const queued = this.#queue.splice(0);
      if (this.#broken) {
        for (const q of queued) q.reject(storageFailed(this.#broken));
        continue;
      }
      const batch = new Map<string, Change>();
      const events: Emitted[] = [];
      const built: { q: Queued; result: unknown }[] = [];
      for (const q of queued) {
        const own = new Map<string, Change>();
        const emitted: Emitted[] = [];
        this.#active = { own, batch };
        try {
          const result = q.build(this.#tx(own, emitted));
          if (isThenable(result)) throw new Error('A mutation must be synchronous, but its build returned a promise');
          for (const [key, change] of own) batch.set(key, change);
          events.push(...emitted);
          built.push({ q, result });
        } catch (error) {
          q.reject(error);
        } finally {
          this.#active = null;
        }
      }
      if (!built.length) continue;
      const published = this.#hub.prepare(events, this.events.latestSeq);
      try {
        await this.#flush(batch, published);
      } catch (error) {
        // Answered only once the files are back as they were, so a retry starts from a consistent disk.
        await this.#restore(batch, published, error);
        for (const { q } of built) q.reject(storageFailed(error));
        continue;
      }
      this.stats.flushes++;
      this.stats.mutations += built.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, built.length);
      for (const { kind, id, entity } of batch.values()) this.#apply(kind, id, entity);
      this.#hub.publish(published);
      for (const { q, result } of built) q.resolve(result);
    }
    this.#draining = undefined;
  }

  #tx(own: Map<string, Change>, emitted: Emitted[]): Tx {
    const now = this.now();
    const tx: Tx = {
      now,
      get: (kind, id) => this.get(kind, id),
      put: (kind, entity) => void own.set(`${kind}/${idOf(kind, entity)}`, { kind, id: idOf(kind, entity), entity }),
      remove: (kind, id) => void own.set(`${kind}/${id}`, { kind, id, entity: null }),
      emit: (type, data) => {
        // A deleted entity is gone from the transaction's view but still tells which project its event concerns.
        const lookup = (kind: Kind, id: string) => (tx.get(kind, id) ?? this.#maps[kind]?.get(id)) as { projectId?: string } | undefined;
        emitted.push({ type, data, projectId: projectOf(type, data, lookup), timestamp: now } as Emitted);
      },
      ids: (index, key) => {
        const kind = index === 'sessionsByProject' ? 'sessions' : 'tasks';
        const field = index === 'tasksByParent' ? 'parentId' : 'projectId';
        const ids = new Set(this[index].get(key));
        for (const changes of [this.#active!.batch, own]) {
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

  /** Entity files first (written, flushed, renamed, directories flushed), then the log lines: both before any ack. */
  async #flush(batch: Map<string, Change>, published: readonly Published[]): Promise<void> {
    const writes: { key: string; value: string }[] = [];
    const removals: string[] = [];
    for (const { kind, id, entity } of batch.values()) {
      const current = this.#maps[kind].get(id);
      const target = entity && keyOf(kind, entity);
      if (target) writes.push({ key: target, value: entityText(entity) });
      if (current && keyOf(kind, current) !== target) removals.push(keyOf(kind, current));
      removals.push(...(this.#strayKeys.get(`${kind}/${id}`) ?? []));
    }
    await settleAll([this.storage.setItems(writes), ...removals.map((key) => this.storage.removeItem(key))]);
    for (const { kind, id } of batch.values()) this.#strayKeys.delete(`${kind}/${id}`);
    if (published.length) await this.events.append(published);
  }

  /** Puts back the files and log lines of a failed batch; stops the server if even that fails. */
  async #restore(batch: Map<string, Change>, published: readonly Published[], cause: unknown): Promise<void> {
    this.#log.error(`Storage failed; ${batch.size} change(s) were refused and are being undone`, cause);
    try {
      const writes: { key: string; value: string }[] = [];
      const removals: string[] = [];
      for (const { kind, id, entity } of batch.values()) {
        const current = this.#maps[kind].get(id);
        if (current) writes.push({ key: keyOf(kind, current), value: entityText(current) });
        if (entity && (!current || keyOf(kind, entity) !== keyOf(kind, current))) removals.push(keyOf(kind, entity));
      }
      await settleAll([this.storage.setItems(writes), ...removals.map((key) => this.storage.removeItem(key))]);
      if (published.length) await this.events.truncate(published[0]!.seq - 1);
    } catch (error) {
      this.#broken = error;
      this.#log.error(
        'Storage failed and the failed changes could not be undone: stopping, so that disk and memory cannot disagree',
        error,
      );
      this.#onFatal(error);
    }
  }

  #apply(kind: Kind, id: string, entity: Collections[Kind] | null): void {
    const map = this.#maps[kind] as Map<string, Collections[Kind]>;
    const before = map.get(id);
    if (entity) map.set(id, entity);
    else map.delete(id);
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
    for (const listener of this.#listeners) listener(kind, before, entity);
  }

  async #load(kind: Kind): Promise<void> {
    // Straight to the driver: ours lists one directory and reads each file synchronously, so loading costs no
    // promise per file; a driver that answers with promises (another backend) is awaited instead.
    const { driver } = this.storage.getMount(kind);
    const keys = (await driver.getKeys(`${kind}:`, {})).filter((key) => key.endsWith('.json'));
    const loaded: { key: string; id: string; entity: any; order: number; migrated: boolean }[] = [];
    for (const key of keys) {
      try {
        let raw = driver.getItem(key, {}) as unknown;
        if (raw instanceof Promise) raw = await raw;
        const parsed: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
        const result = normalizeLoaded(kind, parsed);
        if (result) loaded.push({ key, id: result.id, entity: result.entity, order: result.order, migrated: result.migrated });
        else this.#log.warn(`Skipping ${key.replaceAll(':', '/')}: not a valid ${kind} entity`);
      } catch (error) {
        this.#log.warn(`Skipping ${key.replaceAll(':', '/')}: ${(error as Error).message}`);
      }
    }
    // The file where an entity belongs wins over stray copies (a legacy task file, a misnamed file), and every
    // stray copy is remembered so that the entity's next save or delete removes it: a crash between writing the
    // new file and unlinking the old one can leave both (§5).
    const byId = new Map<string, (typeof loaded)[number]>();
    for (const entry of loaded) {
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
      this.#log.info(`Migrating ${resave.length} legacy ${kind} file(s) to the current layout`);
      await this.mutate((tx) => resave.forEach((entity) => tx.put(kind, entity)));
    }
  }
}
