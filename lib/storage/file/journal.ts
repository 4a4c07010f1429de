// The commit journal: the file engine's write-ahead record, one line per batch, flushed once per batch.
import { mkdirSync, readdirSync, statfsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { EngineFatalError } from '../engine.js';
import { syncDir } from './driver.js';
import { type AppendFile, forEachLine, type OpenAppend, writeFully } from './lines.js';

const fileName = (n: number) => `${String(n).padStart(12, '0')}.wal`;
const PREALLOCATE = 4 * 1024 * 1024;

/**
 * Whether zeros of `bytes` may be written ahead: only while the disk keeps at least as much free beside them. The
 * zeros are an optimisation; they must never be what fills the disk and fails the entity files written meanwhile.
 */
function roomAhead(dir: string, bytes: number): boolean {
  try {
    const { bavail, bsize } = statfsSync(dir);
    return bavail * bsize >= 2 * bytes;
  } catch {
    return true;
  }
}

/** A batch as the journal keeps it: its entity changes (`[kind, id, entity or null]`) and its event envelopes. */
export interface JournalRecord {
  c: [string, string, unknown][];
  e: { seq: number }[];
}

/**
 * `DATA_DIR/journal/<n>.wal`: a batch is durable once its line is written and flushed (one flush per batch). The
 * entity files and the event log are written after it without a flush; a checkpoint flushes them and then drops the
 * journal files it covers, so recovery after a crash reads only what came after the last checkpoint.
 */
export class Journal {
  #file: AppendFile | undefined;
  #n = 0;
  /** Where the records end, and how much of the file is zero-filled ahead of them. */
  #size = 0;
  #allocated = 0;
  /** Zeros being written ahead of the records, between commits (see `#extendAhead`). */
  #extending: Promise<void> | undefined;

  private constructor(
    private readonly dir: string,
    private readonly openFile: OpenAppend,
  ) {}

  /** The journal files present (numbers, ascending): what recovery must replay. */
  static files(dir: string): number[] {
    mkdirSync(dir, { recursive: true });
    return readdirSync(dir)
      .map((name) => /^(\d{12})\.wal$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Every whole record of the journal files, oldest first; a torn last line (a crash mid-write) is not one. */
  static read(dir: string, onBad: (file: string) => void): JournalRecord[] {
    const records: JournalRecord[] = [];
    for (const n of Journal.files(dir)) {
      forEachLine(join(dir, fileName(n)), (line) => {
        try {
          records.push(JSON.parse(line) as JournalRecord);
        } catch {
          onBad(fileName(n));
          return false;
        }
        return true;
      });
    }
    return records;
  }

  /** Starts a fresh journal file after the highest present. */
  static async create(dir: string, openFile: OpenAppend): Promise<Journal> {
    const journal = new Journal(dir, openFile);
    await journal.#start((Journal.files(dir).at(-1) ?? 0) + 1);
    return journal;
  }

  get size() {
    return this.#size;
  }

  get current() {
    return this.#n;
  }

  /**
   * Writes a record whole and flushes it. On failure the record is cut off again (and the cut flushed), so nothing
   * of it can be replayed; if even that fails, an `EngineFatalError`. Returns where the record starts, for `undo`.
   */
  async append(record: Buffer): Promise<number> {
    const at = this.#size;
    try {
      if (at + record.length > this.#allocated) await this.#extending;
      if (at + record.length > this.#allocated) await this.#extend(at + record.length);
      await writeFully(this.#file!, record, at);
      await this.#file!.datasync();
    } catch (error) {
      await this.undo(at, error);
      throw error;
    }
    this.#size = at + record.length;
    if (this.#allocated - this.#size < PREALLOCATE / 2) this.#startExtending();
    return at;
  }

  #startExtending(): void {
    this.#extending ??= this.#extendAhead().finally(() => (this.#extending = undefined));
  }

  /**
   * Zero-fills the next few MiB while commits go on, a step at a time, each flushed: a commit's own flush then
   * carries at most one step of zeros, instead of every few MiB one commit waiting for all of them. A failure
   * (a nearly full disk) is left to `append`, which extends by just what its record needs.
   */
  async #extendAhead(): Promise<void> {
    const file = this.#file!;
    const step = Buffer.alloc(PREALLOCATE / 8);
    try {
      for (let i = 0; i < 8 && roomAhead(this.dir, step.length); i++) {
        await writeFully(file, step, this.#allocated);
        await file.datasync();
        this.#allocated += step.length;
      }
    } catch {
      // Zeros written short of a full step must not hold on to the disk's last free blocks.
      await file.truncate(this.#allocated).catch(() => {});
    }
  }

  /**
   * The file is filled with zeros ahead of the records, a few MiB at a time, and flushed: a record then overwrites
   * blocks the file already has, so its flush need not also commit a new file size (one disk round trip, not two).
   * Recovery stops reading at the first zero byte.
   */
  async #extend(needed: number): Promise<void> {
    const ahead = roomAhead(this.dir, PREALLOCATE) ? Math.max(needed, this.#allocated + PREALLOCATE) : needed;
    // On a nearly full disk, just the room this record needs.
    for (const target of ahead > needed ? [ahead, needed] : [needed]) {
      try {
        await writeFully(this.#file!, Buffer.alloc(target - this.#allocated), this.#allocated);
        await this.#file!.datasync();
        this.#allocated = target;
        return;
      } catch (error) {
        if (target === needed) throw error;
        // The zeros written before the disk filled up would leave no room for the entity files: cut them off again.
        await this.#file!.truncate(this.#allocated);
      }
    }
  }

  /** Cuts the journal back to `at` (a batch that failed after its record was written). */
  async undo(at: number, cause?: unknown): Promise<void> {
    await this.#extending;
    try {
      await this.#file!.truncate(at);
      await this.#file!.datasync();
      this.#size = at;
      this.#allocated = at;
    } catch (error) {
      throw new EngineFatalError(`The commit journal could not be cut back after a failed write: ${(error as Error).message}`, {
        cause: cause ?? error,
      });
    }
  }

  /** Closes the current file and starts the next; returns the closed file's number (a checkpoint covers it). */
  async rotate(): Promise<number> {
    const done = this.#n;
    await this.#extending;
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
    await this.#start(done + 1);
    return done;
  }

  /** Removes the journal files up to `n` (their batches are checkpointed). */
  async drop(n: number): Promise<void> {
    for (const old of Journal.files(this.dir)) if (old <= n) unlinkSync(join(this.dir, fileName(old)));
    await syncDir(this.dir);
  }

  async close(): Promise<void> {
    await this.#extending;
    await this.#file?.close();
    this.#file = undefined;
  }

  async #start(n: number): Promise<void> {
    this.#file = await this.openFile(join(this.dir, fileName(n)));
    this.#n = n;
    this.#size = 0;
    this.#allocated = 0;
    await syncDir(this.dir);
  }
}
