// The file engine (contract §22.1): one data directory, one lock, a commit journal, entity files, a snapshot.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { createStorage, type Storage } from 'unstorage';
import type { Published } from '../../domain/events.js';
import type { Logger } from '../../log.js';
import {
  type Change,
  type CommitBatch,
  EngineFatalError,
  type EntityView,
  KINDS,
  type Kind,
  type LoadedEntity,
  type StorageEngine,
} from '../engine.js';
import { durableFsDriver, type StagedWrites, settleAll, syncDir, syncFile } from './driver.js';
import { FileEventLog } from './event-log.js';
import { readImportMark, writeImportMark } from './import-mark.js';
import { Journal, type JournalRecord } from './journal.js';
import { fileText, keyOf } from './layout.js';
import { type OpenAppend, openAppend } from './lines.js';
import { listEntityFiles, listWithoutSnapshot, signatureOf } from './listing.js';
import { loadFiles } from './load.js';
import { type DataDirLock, lockDataDir } from './lock.js';
import { recover } from './recover.js';
import { readSnapshot, snapshotTemps, writeSnapshot } from './snapshot.js';

export interface FileEngineOptions {
  dir: string;
  log: Logger;
  /**
   * Entity files are written through this (tests pass one over a driver that fails on chosen keys); its driver
   * stages a batch's files with `stageItems`, as the durable driver does.
   */
  storage?: Storage;
  /** How the journal and the event log open files for appending (tests pass one that writes short or fails). */
  openFile?: OpenAppend;
  /** A checkpoint starts once the journal holds this many bytes (default 32 MiB): what recovery reads at most. */
  checkpointBytes?: number;
}

/**
 * Commit path: a batch's record (its entity changes and event lines) is appended to the journal and flushed, the
 * one flush of the batch, while the entity files are written to temporary files beside them; once the record is
 * durable they are renamed over the files (never seen half-written), then the event lines appended, without a flush,
 * before the answer, so other tools see the files (§5). If a temporary file fails, they are removed and the record
 * cut off again: nothing was seen. If a later step fails, the files, the log and the journal are put back (flushed).
 * Either way the batch fails; if putting back fails too, EngineFatalError.
 *
 * A checkpoint (journal over `checkpointBytes`, and at close) flushes the event log, starts a new journal file, then
 * in the background flushes the files written since the last one, writes the snapshot, and drops the covered journal.
 */
export class FileEngine implements StorageEngine {
  readonly name = 'file';
  #events: FileEventLog | undefined;
  readonly storage: Storage;
  readonly #dir: string;
  readonly #log: Logger;
  readonly #openFile: OpenAppend;
  readonly #checkpointBytes: number;
  #lock: DataDirLock | undefined;
  #journal: Journal | undefined;
  #view: EntityView | undefined;
  /** kind/id → stray copies of the entity, removed at its next save (see load.ts). */
  #strays = new Map<string, string[]>();
  /**
   * key → the signature of the entity file as last flushed, for the entities changed since the last snapshot (what
   * the next one records for them; the others' lines are copied from the last one).
   */
  #signatures = new Map<string, string>();
  /** Keys written or removed since the last checkpoint began. */
  #dirty = new Set<string>();
  /** Keys written or removed since the last snapshot was written (checkpoints under load may skip it). */
  #unsnapshotted = new Set<string>();
  #checkpoint: Promise<void> | undefined;
  #turn: Promise<unknown> = Promise.resolve();
  #unfinishedImport: string | undefined;
  /** Figures for the benchmarks and the log. */
  readonly stats = {
    recoveredBatches: 0,
    filesRead: 0,
    snapshot: 'none' as 'none' | 'used' | 'damaged',
    checkpoints: 0,
    snapshotsWritten: 0,
  };

  constructor(options: FileEngineOptions) {
    this.#dir = options.dir;
    this.#log = options.log;
    this.#openFile = options.openFile ?? openAppend;
    this.#checkpointBytes = options.checkpointBytes ?? 32 * 1024 * 1024;
    // The layout exists from the start, for people and tools that read the files (§5).
    try {
      makeDirectory(this.#dir);
      for (const kind of KINDS) mkdirSync(join(this.#dir, kind), { recursive: true });
    } catch (error) {
      // Say which setting is wrong: the bare error names only a subdirectory (`ENOTDIR … mkdir '<dir>/projects'`).
      throw new Error(`DATA_DIR ${this.#dir} cannot be used: ${(error as Error).message}`, { cause: error });
    }
    this.storage = options.storage ?? createStorage({ driver: durableFsDriver({ base: this.#dir }) });
  }

  /** The event log, once `open` holds the lock (opening it cuts a torn last line: only the holder may). */
  get events(): FileEventLog {
    if (!this.#events) throw new Error('The file engine is not open');
    return this.#events;
  }

  get unfinishedImport(): string | undefined {
    return this.#unfinishedImport;
  }

  async markImport(note: string | undefined): Promise<void> {
    await writeImportMark(this.#dir, note);
    this.#unfinishedImport = note;
  }

  async open(view: EntityView): Promise<LoadedEntity[]> {
    this.#view = view;
    this.#lock = lockDataDir(this.#dir, (message) => this.#log.warn(message));
    try {
      this.#unfinishedImport = readImportMark(this.#dir);
      this.#events = FileEventLog.open(join(this.#dir, 'events'), this.#openFile);
      const listed = listEntityFiles(this.#dir);
      const snapshot = readSnapshot(this.#dir, (reason) => {
        this.stats.snapshot = 'damaged';
        this.#log.warn(`The snapshot is damaged (${reason}): loading every entity file, then writing a new snapshot`);
      });
      if (snapshot) this.stats.snapshot = 'used';
      let listing = await listed;
      // The listing took some files from a snapshot that turned out damaged: every file is read after all.
      if (!snapshot && listing.fresh.includes(1)) listing = listWithoutSnapshot(this.#dir);
      this.#removeTemps(listing.temps);
      const files = loadFiles(this.#dir, listing, snapshot, (message) => this.#log.warn(message));
      this.#strays = files.strays;
      for (const [key, signature] of files.read) {
        if (signature) this.#signatures.set(key, signature);
        this.#unsnapshotted.add(key);
      }
      this.stats.filesRead = files.read.size;
      this.#log.info(
        `Loaded ${files.entities.length} entities (${snapshot ? `snapshot, ${files.read.size} changed file(s) read` : `${files.read.size} files read, no usable snapshot`})`,
      );
      const journalDir = join(this.#dir, 'journal');
      // Entity files with neither journal nor snapshot beside them: a directory of a version before this engine's.
      if (!snapshot && files.entities.length && !existsSync(journalDir)) {
        this.#log.info(
          `Upgrading a data directory written by an earlier version (entity files without a commit journal or snapshot): ${files.entities.length} entities and ${this.events.latestSeq} events kept as they are; a snapshot is written now, so later starts read only the files that changed`,
        );
      }
      const records = Journal.read(journalDir, (file) => this.#log.warn(`Journal ${file}: a damaged record; later ones are ignored`));
      let entities = files.entities;
      if (records.length) {
        this.#log.warn(`Restoring ${records.length} committed batch(es) from the journal after an unclean stop`);
        entities = await recover(this, entities, records);
        this.stats.recoveredBatches = records.length;
      }
      this.#journal = await Journal.create(journalDir, this.#openFile);
      // Older journal files are covered now (recovery wrote their changes durably); a new snapshot replaces a
      // missing, damaged or much outdated one.
      await this.#journal.drop(this.#journal.current - 1);
      if (!snapshot || records.length || files.read.size > 1000) {
        this.checkpoint().catch((error) => this.#log.error('Checkpoint failed; the journal is kept, so nothing is lost', error));
      }
      return entities;
    } catch (error) {
      this.#lock.release();
      throw error;
    }
  }

  /**
   * Removes the temporary files (an entity file's, a snapshot's) that a server stopped in the middle of a write left
   * behind: this one holds the lock, so none of them is being written.
   */
  #removeTemps(temps: readonly string[]): void {
    const stale = [...temps, ...snapshotTemps(this.#dir)];
    for (const path of stale) rmSync(path, { force: true });
    if (stale.length) this.#log.warn(`Removed ${stale.length} temporary file(s) left by a server that stopped in the middle of a write`);
  }

  /** A batch's files written as temporary files (`stageItems` of the durable driver, or of a test's driver over it). */
  #stage(writes: { key: string; value: string }[]): Promise<StagedWrites> {
    const driver = this.storage.getMount('').driver as unknown as { stageItems(items: typeof writes): Promise<StagedWrites> };
    return driver.stageItems(writes);
  }

  /** Commits and checkpoint rotations take turns: a rotation must never fall between a record's write and flush. */
  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work);
    this.#turn = run.catch(() => {});
    return run;
  }

  commit(batch: CommitBatch): Promise<Published[]> {
    return this.#serially(() => this.#commit(batch));
  }

  async #commit(batch: CommitBatch): Promise<Published[]> {
    const published = batch.prepare(this.events.latestSeq);
    // A batch that changes nothing and says nothing (a startup repair with nothing to repair) has nothing to record.
    if (!batch.changes.length && !published.length) return published;
    const writes: { key: string; value: string }[] = [];
    const removals: string[] = [];
    const record: JournalRecord['c'] = [];
    for (const change of batch.changes) {
      const target = change.entity && keyOf(change.kind, change.entity);
      if (target) writes.push({ key: target, value: fileText(change.entity) });
      if (change.before && keyOf(change.kind, change.before) !== target) removals.push(keyOf(change.kind, change.before));
      removals.push(...(this.#strays.get(`${change.kind}/${change.id}`) ?? []));
      record.push([change.kind, change.id, change.entity]);
    }
    // Event lines are JSON already: embedded as they are, not escaped into strings.
    const line = `{"c":${JSON.stringify(record)},"e":[${published.map((e) => e.line).join(',')}]}\n`;
    // The files' temporary copies are written while the record is flushed: nothing shows them until it is durable.
    const [staged, journaled] = await Promise.allSettled([this.#stage(writes), this.#journal!.append(Buffer.from(line))]);
    if (journaled.status === 'rejected') {
      if (staged.status === 'fulfilled') await staged.value.discard();
      throw journaled.reason;
    }
    const at = journaled.value;
    if (staged.status === 'rejected') {
      this.#log.error(`Storage failed; ${batch.changes.length} change(s) were refused`, staged.reason);
      await this.#journal!.undo(at, staged.reason);
      throw staged.reason;
    }
    // Dirty before any rename: a checkpoint running now must not record a file that is changing beside an entity that
    // is not applied in memory yet (see #changedEntries).
    for (const { key } of writes) this.#dirty.add(key);
    for (const key of removals) this.#dirty.add(key);
    try {
      await settleAll([staged.value.publish(), ...removals.map((key) => this.storage.removeItem(key, { sync: false }))]);
      // After the files: a reader of the log (a replay) must never see the event of a batch whose files then fail.
      await this.events.append(published, { sync: false });
    } catch (error) {
      await this.#undo(batch.changes, published, at, error);
      throw error;
    }
    for (const change of batch.changes) this.#strays.delete(`${change.kind}/${change.id}`);
    if (this.#journal!.size >= this.#checkpointBytes && !this.#checkpoint) await this.#startCheckpoint(false);
    return published;
  }

  /** Checkpoints now, after the commits already asked for (waiting for a running checkpoint first). */
  async checkpoint(): Promise<void> {
    await this.#checkpoint;
    await this.#serially(() => this.#startCheckpoint(true));
    await this.#checkpoint;
  }

  async close(): Promise<void> {
    try {
      // Loaded from the snapshot alone and nothing committed since: the snapshot is current already.
      const current =
        this.stats.snapshot === 'used' &&
        this.stats.filesRead === 0 &&
        !this.#journal?.size &&
        !this.#dirty.size &&
        !this.#unsnapshotted.size;
      if (this.#journal && !current) await this.checkpoint();
      else await this.#checkpoint;
    } finally {
      await this.#journal?.close();
      await this.#events?.close();
      this.#lock?.release();
      this.#lock = undefined;
    }
  }

  /** Writes entity files durably (recovery; the undo of a failed batch). */
  async writeDurably(writes: { key: string; value: string }[], removals: string[]): Promise<void> {
    await settleAll([this.storage.setItems(writes), ...removals.map((key) => this.storage.removeItem(key))]);
    // Changed files: the next checkpoint records their signatures, for the snapshot.
    for (const { key } of writes) this.#dirty.add(key);
    for (const key of removals) this.#dirty.add(key);
  }

  /** Puts back the files, event lines and journal record of a batch that failed after its record was written. */
  async #undo(changes: readonly Change[], published: readonly Published[], at: number, cause: unknown): Promise<void> {
    this.#log.error(`Storage failed; ${changes.length} change(s) were refused and are being undone`, cause);
    try {
      const writes: { key: string; value: string }[] = [];
      const removals: string[] = [];
      for (const { kind, entity, before } of changes) {
        if (before) writes.push({ key: keyOf(kind, before), value: fileText(before) });
        if (entity && (!before || keyOf(kind, entity) !== keyOf(kind, before))) removals.push(keyOf(kind, entity));
      }
      await this.writeDurably(writes, removals);
      if (published.length) await this.events.truncate(published[0]!.seq - 1);
    } catch (error) {
      throw new EngineFatalError(`A failed batch could not be undone: ${(error as Error).message}`, { cause: error });
    }
    await this.#journal!.undo(at, cause);
  }

  /**
   * Rotates the journal (between commits), then finishes in the background. `snapshot`: write the snapshot in any
   * case (a stop, startup after recovery); otherwise only once a tenth of the entities changed since the last one.
   */
  async #startCheckpoint(snapshot: boolean): Promise<void> {
    const covered = await this.#journal!.rotate();
    const dirty = this.#dirty;
    this.#dirty = new Set();
    this.#checkpoint = this.#finishCheckpoint(covered, dirty, snapshot)
      .catch((error) => {
        // The next checkpoint must flush these files again before it drops the journal that covers them.
        for (const key of dirty) this.#dirty.add(key);
        this.#log.error('Checkpoint failed; the journal is kept, so nothing is lost', error);
      })
      .finally(() => (this.#checkpoint = undefined));
  }

  /**
   * Flushes the event log and the files written since the last checkpoint, then (when due) writes the snapshot, and
   * drops the journal files it covers. Commits go on meanwhile: a few files are flushed at a time, so that the thread
   * pool keeps room for their writes. The snapshot holds every entity, so writing it at each checkpoint would make a
   * large store under steady writes serialise all of it every 32 MiB of journal; a stale snapshot only costs the
   * next start the reading of the files changed since (their signatures tell).
   */
  async #finishCheckpoint(covered: number, dirty: Set<string>, snapshot: boolean): Promise<void> {
    await this.events.flush();
    const keys = [...dirty];
    const dirs = new Set<string>();
    for (let i = 0; i < keys.length; i += 4) {
      await Promise.all(
        keys.slice(i, i + 4).map(async (key) => {
          const path = this.#dir + sep + key.split(':').join(sep);
          dirs.add(dirname(path));
          const st = await syncFile(path);
          const signature = st && signatureOf(st, Date.now());
          if (signature) this.#signatures.set(key, signature);
          else this.#signatures.delete(key);
        }),
      );
    }
    await Promise.all([...dirs].map(syncDir));
    for (const key of dirty) this.#unsnapshotted.add(key);
    const entities = KINDS.reduce((n, kind) => n + this.#view!.count(kind), 0);
    if (snapshot || this.#unsnapshotted.size > Math.max(1000, entities / 10)) {
      // Only checkpoints touch these, one at a time: nothing changes them while the snapshot is written.
      const changed = this.#unsnapshotted;
      const keep = (path: string) => {
        const key = path.replaceAll('/', ':');
        return !changed.has(key) && this.#entityAt(key) !== undefined;
      };
      await writeSnapshot(this.#dir, keep, this.#changedEntries(changed));
      this.#unsnapshotted = new Set();
      for (const key of changed) this.#signatures.delete(key);
      this.stats.snapshotsWritten++;
    }
    await this.#journal!.drop(covered);
    this.stats.checkpoints++;
  }

  /**
   * The entities changed since the last snapshot, with their files' signatures. Left out (so the next start reads
   * their files): one whose file is too new, and one written since this checkpoint began, whose file may already be
   * newer than the entity in memory (a batch is applied only once all its files and events are written).
   */
  *#changedEntries(changed: Set<string>): Generator<[string, string, unknown]> {
    for (const key of changed) {
      if (this.#dirty.has(key)) continue;
      const signature = this.#signatures.get(key);
      const entity = signature && this.#entityAt(key);
      if (entity) yield [key.replaceAll(':', '/'), signature, entity];
    }
  }

  /** The entity whose file `key` is (`tasks:p:t.json`), if there is one now. */
  #entityAt(key: string): unknown {
    const kind = key.slice(0, key.indexOf(':')) as Kind;
    const entity = KINDS.includes(kind) ? this.#view!.committed(kind, key.slice(key.lastIndexOf(':') + 1, -'.json'.length)) : undefined;
    try {
      return entity && keyOf(kind, entity) === key ? entity : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * `mkdir -p` of the data directory itself, a level at a time: Node 20's recursive `mkdir` loops for ever where a
 * parent exists but takes no new entries (ENOENT under `/proc`), so such a DATA_DIR would hang the start.
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw error;
    makeDirectory(dirname(dir));
    mkdirSync(dir);
  }
}
