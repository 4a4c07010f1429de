// The interface a Db runs on (DESIGN "Contract 3"): what a storage engine must do, whichever engine it is.
import type { Published } from '../domain/events.js';
import type {
  DeliveryMarks,
  HistoryEntry,
  HostRecord,
  Message,
  PersonToken,
  Project,
  QueueState,
  Session,
  SessionSecret,
  Task,
  Template,
} from '../domain/types.js';
import type { EventLog } from './event-log.js';

export interface Collections {
  projects: Project;
  tasks: Task;
  sessions: Session;
  queues: QueueState;
  templates: Template;
  messages: Message;
  hosts: HostRecord;
  secrets: SessionSecret;
  history: HistoryEntry;
  deliveries: DeliveryMarks;
  /** People's tokens (§23): name, role and the SHA-256 of the secret. */
  tokens: PersonToken;
}
export type Kind = keyof Collections;
export const KINDS: readonly Kind[] = [
  'projects',
  'tasks',
  'sessions',
  'queues',
  'templates',
  'messages',
  'hosts',
  'secrets',
  'history',
  'deliveries',
  'tokens',
];

/** The ID an entity is stored under: its `id`, a queue's, secret's or delivery marks' `sessionId`, a host's `name`. */
export const idOf = (kind: Kind, entity: Collections[Kind]): string =>
  kind === 'queues' || kind === 'secrets' || kind === 'deliveries'
    ? (entity as QueueState).sessionId
    : kind === 'hosts'
      ? (entity as HostRecord).name
      : (entity as { id: string }).id;

/** One entity's change in a batch: its new state (null: removed) and the committed state it replaces. */
export interface Change {
  kind: Kind;
  id: string;
  entity: Collections[Kind] | null;
  before: Collections[Kind] | undefined;
}

/** A batch to commit: its changes in order, and its events, numbered once the engine knows the first `seq`. */
export interface CommitBatch {
  changes: readonly Change[];
  /** Numbers and serialises the batch's events after `lastSeq` (the hub's `prepare`); may return none. */
  prepare(lastSeq: number): Published[];
  /**
   * For an engine shared by several instances: it found, under its commit lock, commits of other instances that the
   * batch was built without. The Db applies them (`EntityView.applyRemote`), builds the batch's mutations again on
   * the state they made, and answers the batch to commit instead (serialisable: every batch is built on the state
   * it commits over).
   */
  rebuild(remote: readonly RemoteCommit[]): CommitBatch;
}

/** A commit of another instance on a shared engine: its entity changes and its events, in `seq` order. */
export interface RemoteCommit {
  changes: { kind: Kind; id: string; entity: Collections[Kind] | null }[];
  events: Published[];
}

/** An entity as an engine loaded it, checked and migrated (`migrated`: it must be saved again). */
export interface LoadedEntity {
  kind: Kind;
  id: string;
  entity: any;
  migrated: boolean;
}

/** The engine holds the data elsewhere (another server on the same data directory, §22.1). */
export class EngineLockedError extends Error {
  override name = 'EngineLockedError';
}

/** The store holds part of an export: an import into it stopped before its end (`StorageEngine.unfinishedImport`). */
export class UnfinishedImportError extends Error {
  override name = 'UnfinishedImportError';
  constructor(readonly note: string) {
    super(
      `an import into this store (${note}) did not finish: it holds only part of that export. Import into an empty store (a new DATA_DIR, or a new database), or empty this one first.`,
    );
  }
}

/**
 * A failed commit that could not be undone: storage and memory may now disagree, so the server must stop (§1.7).
 * Any other error thrown by `commit` means the batch changed nothing that anyone can see.
 */
export class EngineFatalError extends Error {
  override name = 'EngineFatalError';
}

/**
 * What a `Db` needs from storage. The Db keeps every entity in memory and serves every read from there; the engine
 * keeps them durable. One batch is committed at a time, in order (the Db's group commit); the engine may overlap
 * background work (checkpoints) with commits. Both engines pass the shared suite in test/engine-contract.ts.
 */
export interface StorageEngine {
  /** `file` (the embedded default, §22.1) or `postgres` (§22.2). */
  readonly name: string;
  /** The event log: `seq` continues from it; replays and `GET /api/events` read from it. */
  readonly events: EventLog;
  /**
   * Takes the exclusive hold on the data (the file engine's `DATA_DIR/.lock`), restores every acknowledged change
   * after a crash, and returns every stored entity. Throws `EngineLockedError` when another server holds the data.
   * `view` reads the Db's in-memory entities later (the file engine writes its snapshot from it).
   */
  open(view: EntityView): Promise<LoadedEntity[]>;
  /**
   * Makes a batch durable, with its events, and answers the events as numbered and logged. When it returns, other
   * readers of the store see the batch (the file engine's entity files, §5). When it throws, nothing of the batch is
   * visible anywhere (an `EngineFatalError` if that could not be ensured).
   */
  commit(batch: CommitBatch): Promise<Published[]>;
  /**
   * Bounds recovery work: makes everything committed so far durable in its final place. The Db calls it when
   * between commits (at close).
   */
  checkpoint(): Promise<void>;
  /** Checkpoints, closes the event log and releases the hold on the data. */
  close(): Promise<void>;
  /**
   * The mark of an import (`maestro-server import`) that has not finished, as `open` found it; undefined when none.
   * Such a store holds only part of an export: the Db opens it only for another import (`Db.open`).
   */
  readonly unfinishedImport: string | undefined;
  /**
   * Sets the unfinished-import mark (`note`: which import, since when) before an import's first record, and clears it
   * (undefined) after its last, durably: an import stopped in between (`kill -9`, a full disk) leaves the mark.
   */
  markImport(note: string | undefined): Promise<void>;
  /**
   * On an engine several instances share: resolves once this instance has applied every commit made before the call,
   * on any instance. Every request waits for it first, so it sees every change answered before it arrived (§22.2).
   */
  sync?(): Promise<void>;
  /** On an engine several instances share: runner names held across them, and frames routed between them. */
  readonly runners?: RunnerRelay;
  /**
   * Why this instance cannot follow the store now, if it cannot (PostgreSQL not answering: what it serves may be stale
   * and its writes fail); `GET /health` answers 503 with it. The file engine has no such state: it stops instead.
   */
  unavailable?(): string | undefined;
}

/** A runner frame's answer as it crosses instances: the runner's reply, or why there is none. */
export type RelayAnswer = { ok: true; reply: unknown } | { ok: false; error: string; code?: string; details?: Record<string, unknown> };

/**
 * Runners across instances (§22.2): each runner's socket is on one instance; the others reach it through the shared
 * store. A host name is held once across all instances.
 */
export interface RunnerRelay {
  /** Holds a runner's host name for this instance; false when it is held (here or on another instance). */
  claim(name: string): Promise<boolean>;
  release(name: string): Promise<void>;
  /** Whether another instance holds `name`'s runner now. */
  elsewhere(name: string): boolean;
  /** Passes a frame to the instance holding `host`'s runner; with `reply`, answers what its runner replied. */
  forward(host: string, message: unknown, reply: boolean): Promise<RelayAnswer | undefined>;
  /** Passes a runner's report (terminal output) to the instance that asked for it. */
  report(instance: string, host: string, message: unknown): Promise<void>;
  /** Who handles what other instances pass here: frames for runners here, and reports from runners elsewhere. */
  serve(handler: RelayHandler): void;
}

export interface RelayHandler {
  /** A frame for the runner of `host` (held here), from instance `from`; answers its reply when `reply`. */
  frame(host: string, message: unknown, reply: boolean, from: string): Promise<RelayAnswer | undefined>;
  report(host: string, message: unknown): void;
  /** Another instance has taken the runner of `host` (seen when this instance re-reads who holds which runner). */
  arrived(host: string): void;
  /** The instances alive as of `asOf` (ms): what was kept for any other (who watches what through here) can go. */
  alive(instances: ReadonlySet<string>, asOf: number): void;
}

/** The Db's view of its in-memory entities, for an engine that writes them out whole (a snapshot). */
export interface EntityView {
  all<K extends Kind>(kind: K): Iterable<Collections[K]>;
  committed<K extends Kind>(kind: K, id: string): Collections[K] | undefined;
  count(kind: Kind): number;
  /** Applies other instances' commits in memory and sends their events to this instance's clients (§22.2). */
  applyRemote(commits: readonly RemoteCommit[]): void;
}
