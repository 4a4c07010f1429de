// The Db: every entity in memory, mutations serialised and group-committed through a storage engine.
import { type Actor, actAs, currentActor, SYSTEM } from '../domain/actor.js';
import type { Emitted, EventHub, Published } from '../domain/events.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  type Change,
  type Collections,
  type CommitBatch,
  EngineFatalError,
  type Kind,
  type RemoteCommit,
  type StorageEngine,
  UnfinishedImportError,
} from './engine.js';
import type { EventLog } from './event-log.js';
import { type Index, Indexes } from './indexes.js';
import { createTx, type Tx } from './tx.js';

export type { Collections, Kind } from './engine.js';
export { KINDS } from './engine.js';
export type { IndexName } from './indexes.js';
export type { Tx } from './tx.js';

/** Called for every entity change once it is durable and applied in memory (derived indexes hang off this). */
export type ApplyListener = <K extends Kind>(kind: K, before: Collections[K] | undefined, after: Collections[K] | null) => void;

/** A batch as built: its changes, its events, and the mutations whose builds succeeded with their results. */
interface Built {
  /** Every mutation of the batch, in order: a rebuild runs them all again. */
  queued: Queued[];
  batch: Map<string, Change>;
  events: Emitted[];
  built: { q: Queued; result: unknown }[];
  /** Builds that threw: answered with their error once the batch they saw is committed (or refused with it). */
  failed: { q: Queued; error: unknown }[];
}

interface Queued {
  build: (tx: Tx) => unknown;
  /** Who asked for the mutation (§23): taken when it is asked for, since the batch is built in another's turn. */
  actor: Actor;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
}

/** What `Db.open` needs: the engine that keeps the data, who hears of changes, and the clock. */
export interface DbOptions {
  engine: StorageEngine;
  hub: EventHub;
  log: Logger;
  now?: () => number;
  /** Called when a failed commit could not be undone: storage and memory may disagree, so the process must stop. */
  onFatal?: (error: unknown) => void;
  /** Opened by `maestro-server import`, the one user of a store with an unfinished import's mark. */
  importing?: boolean;
}

const storageFailed = (cause: unknown) => new ApiError(500, 'INTERNAL_ERROR', 'Internal server error', undefined, { cause });

const isThenable = (value: unknown): boolean => typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * All entities, held in memory and committed through a storage engine (which alone knows where they are kept).
 *
 * Mutations run one at a time in arrival order, each seeing the result of the ones before (group commit, as in
 * SQLite's WAL or PostgreSQL's `commit_delay`): every mutation that arrives while a commit is running joins the next
 * batch. Only once the engine made a batch durable are its changes applied in memory, its events broadcast and its
 * callers answered. So no reader ever sees a change before it is durable, and every logged event belongs to a change
 * that is (contract §1.7, §17). A failed commit answers every mutation of its batch with 500 and applies none; one
 * the engine could not undo (EngineFatalError) stops the server through `onFatal`.
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
    history: new Map(),
    deliveries: new Map(),
    tokens: new Map(),
  };
  readonly indexes = new Indexes();
  readonly tasksByProject: Index = this.indexes.tasksByProject;
  readonly tasksByParent: Index = this.indexes.tasksByParent;
  readonly sessionsByProject: Index = this.indexes.sessionsByProject;
  readonly #listeners: ApplyListener[] = [];
  readonly #queue: Queued[] = [];
  /** The running drain of the queue, if any. */
  #draining: Promise<void> | undefined;
  #closed = false;
  /** True once `close` was called: no mutation is taken any more. */
  get closed() {
    return this.#closed;
  }
  /**
   * Other instances' commits heard while the engine was still opening (a shared engine starts following them before
   * it answers what it loaded): applied after the loaded entities, which they are newer than.
   */
  #early: RemoteCommit[] | undefined = [];
  /** Set once storage failed beyond repair: every later mutation is refused. */
  #broken: unknown;
  /** While a build runs: its own changes, then the changes of the earlier builds of its batch. */
  #active: { own: Map<string, Change>; batch: Map<string, Change> } | null = null;
  readonly engine: StorageEngine;
  readonly #hub: EventHub;
  readonly #log: Logger;
  readonly #onFatal: (error: unknown) => void;
  /** The clock every mutation reads (`tx.now`); tests inject one to move time without sleeping. */
  readonly now: () => number;
  /** Commits and the mutations they carried, for the benchmarks. */
  readonly stats = { flushes: 0, mutations: 0, largestBatch: 0 };

  private constructor(options: DbOptions) {
    this.engine = options.engine;
    this.#hub = options.hub;
    this.#log = options.log;
    this.now = options.now ?? Date.now;
    this.#onFatal = options.onFatal ?? (() => {});
  }

  /** Opens the engine (lock, recovery) and loads every entity into memory; the hub continues `seq` from the log. */
  static async open(options: DbOptions): Promise<Db> {
    const db = new Db(options);
    const loaded = await options.engine.open(db);
    // Part of an export is not a store: serving it (or exporting it as whole) would quietly lose the rest.
    const unfinished = options.engine.unfinishedImport;
    if (unfinished !== undefined && !options.importing) {
      await options.engine.close();
      throw new UnfinishedImportError(unfinished);
    }
    options.hub.attach(options.engine.events);
    const resave: Change[] = [];
    for (const { kind, id, entity, migrated } of loaded) {
      db.#apply(kind, id, entity);
      if (migrated) resave.push({ kind, id, entity, before: entity });
    }
    const early = db.#early!;
    db.#early = undefined;
    db.applyRemote(early);
    if (resave.length) {
      options.log.info(`Migrating ${resave.length} legacy file(s) to the current layout`);
      await db.mutate((tx) => resave.forEach(({ kind, entity }) => tx.put(kind, entity!)));
    }
    return db;
  }

  /** The event log of the engine. */
  get events(): EventLog {
    return this.engine.events;
  }

  /** Registers a listener told of every change after it is durable and applied in memory. */
  onApply(listener: ApplyListener): void {
    this.#listeners.push(listener);
  }

  /** The committed entity; inside a mutation's build, the entity as that mutation sees it. */
  get<K extends Kind>(kind: K, id: string): Collections[K] | undefined {
    if (this.#active) {
      const key = `${kind}/${id}`;
      const change = this.#active.own.get(key) ?? this.#active.batch.get(key);
      if (change) return (change.entity ?? undefined) as Collections[K] | undefined;
    }
    return this.#maps[kind].get(id);
  }

  committed<K extends Kind>(kind: K, id: string): Collections[K] | undefined {
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
      this.#queue.push({ build, actor: currentActor(), resolve, reject });
      if (!this.#draining) {
        this.#draining = new Promise<void>((done) =>
          // Mutations requested in the same tick join the first batch too.
          // Outside any caller's context: what listeners start while it applies a batch is done by the server (§23).
          queueMicrotask(() => void actAs(SYSTEM, () => this.#drain()).finally(done)),
        );
      }
    });
  }

  /** Finishes the mutations already asked for, refuses later ones, and closes the engine (a last checkpoint). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#draining;
    await this.engine.close();
    const { flushes, mutations, largestBatch } = this.stats;
    if (flushes) this.#log.info(`Storage closed: ${mutations} mutation(s) in ${flushes} commit(s), at most ${largestBatch} per commit`);
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const queued = this.#queue.splice(0);
      if (this.#broken) {
        for (const q of queued) q.reject(storageFailed(this.#broken));
        continue;
      }
      let current = this.#build(queued);
      if (!current.built.length) {
        for (const { q, error } of current.failed) q.reject(error);
        continue;
      }
      const batchOf = (built: Built): CommitBatch => ({
        changes: [...built.batch.values()],
        prepare: (last) => this.#hub.prepare(built.events, last),
        rebuild: (remote) => {
          this.applyRemote(remote);
          current = this.#build(current.queued);
          return batchOf(current);
        },
      });
      let published: Published[];
      try {
        published = await this.engine.commit(batchOf(current));
      } catch (error) {
        if (error instanceof EngineFatalError) {
          this.#broken = error;
          this.#log.error(
            'Storage failed and the failed changes could not be undone: stopping, so that disk and memory cannot disagree',
            error,
          );
          this.#onFatal(error);
        }
        // A refusal may rest on the batch's own changes (a claim refused for one made earlier in it): none stands.
        for (const { q } of [...current.built, ...current.failed]) q.reject(storageFailed(error));
        continue;
      }
      const { built, failed, batch } = current;
      if (!built.length) {
        for (const { q, error } of failed) q.reject(error);
        continue;
      }
      this.stats.flushes++;
      this.stats.mutations += built.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, built.length);
      for (const { kind, id, entity } of batch.values()) this.#apply(kind, id, entity);
      this.#hub.publish(published);
      for (const { q, result } of built) q.resolve(result);
      for (const { q, error } of failed) q.reject(error);
    }
    this.#draining = undefined;
  }

  /**
   * Runs the builds of a batch in order; a build that throws changes nothing, and is answered with its error once the
   * changes it saw are committed: a refusal must not tell of a change that a failed or rebuilt batch never made.
   */
  #build(queued: Queued[]): Built {
    const batch = new Map<string, Change>();
    const events: Emitted[] = [];
    const built: Built['built'] = [];
    const failed: Built['failed'] = [];
    for (const q of queued) {
      const own = new Map<string, Change>();
      const emitted: Emitted[] = [];
      this.#active = { own, batch };
      try {
        const result = q.build(createTx(this, this.now(), own, batch, emitted, q.actor));
        if (isThenable(result)) throw new Error('A mutation must be synchronous, but its build returned a promise');
        for (const [key, change] of own) batch.set(key, change);
        events.push(...emitted);
        built.push({ q, result });
      } catch (error) {
        failed.push({ q, error });
      } finally {
        this.#active = null;
      }
    }
    return { queued, batch, events, built, failed };
  }

  /** Applies commits of other instances on a shared engine and broadcasts their events, in `seq` order (§22.2). */
  applyRemote(commits: readonly RemoteCommit[]): void {
    if (this.#early) {
      this.#early.push(...commits);
      return;
    }
    for (const { changes, events } of commits) {
      for (const { kind, id, entity } of changes) this.#apply(kind, id, entity);
      this.#hub.publish(events);
    }
  }

  #apply(kind: Kind, id: string, entity: Collections[Kind] | null): void {
    const map = this.#maps[kind] as Map<string, Collections[Kind]>;
    const before = map.get(id);
    if (entity) map.set(id, entity);
    else map.delete(id);
    this.indexes.update(kind, id, before, entity);
    for (const listener of this.#listeners) listener(kind, before, entity);
  }
}
