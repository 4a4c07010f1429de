import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from './driver.js';

/** One logged event: its position, the envelope as one JSON line, and what filters need to know of it. */
export interface LoggedEvent {
  seq: number;
  type: string;
  /** The envelope (§4.2) as stored: secrets redacted. */
  line: string;
  projectId?: string;
  /** Sessions a `message:*` / `session:message_*` event concerns (the `messages=only` filter). */
  sessions?: string[];
}

/**
 * The durable event log (contract §17): append in a commit's flush, read from a `seq`, prune old segments.
 * Entities go through unstorage; the log needs append and read-from-position, which a key-value store lacks, so
 * it has this small interface of its own (a Redis implementation would map onto Redis Streams).
 */
export interface EventLog {
  /** The newest logged `seq` (0 when nothing was ever logged). */
  readonly latestSeq: number;
  /** The oldest `seq` still held (`latestSeq + 1` when the log is empty). */
  readonly oldestSeq: number;
  /** Appends events (consecutive, starting at `latestSeq + 1`) durably; returns once they are on disk. */
  append(events: readonly LoggedEvent[]): Promise<void>;
  /** Undoes appends back to `seq` (a failed batch); throws if it cannot. */
  truncate(seq: number): Promise<void>;
  close(): Promise<void>;
  /** Events with `seq > since`, oldest first, at most `limit`, that pass `keep`. */
  read(since: number, limit: number, keep?: (event: LoggedEvent) => boolean): Promise<LoggedEvent[]>;
  /** Deletes whole segments older than `maxAgeMs` and beyond the newest `keep` events. */
  prune(now: number, maxAgeMs: number, keep: number): void;
}

export const SEGMENT_EVENTS = 10_000;
/** The newest events are also kept in memory, so a client that was away briefly resumes without a disk read. */
const TAIL_EVENTS = 10_000;
const segmentName = (firstSeq: number) => `${String(firstSeq).padStart(12, '0')}.jsonl`;

/** Reads the metadata the filters need back out of a stored envelope line. */
export function parseLine(line: string): LoggedEvent {
  const envelope = JSON.parse(line) as { seq: number; projectId?: string; type: string; data: any };
  return {
    seq: envelope.seq,
    type: envelope.type,
    line,
    projectId: envelope.projectId,
    sessions: sessionsOf(envelope.type, envelope.data),
  };
}

/** The sessions a messaging event concerns (§17 `messages=only`). */
export function sessionsOf(type: string, data: any): string[] | undefined {
  if (type.startsWith('session:message_')) return [data?.sessionId];
  if (type.startsWith('message:')) return data?.from !== undefined ? [data.from, data.to] : [];
  return undefined;
}

/**
 * The event log as files: `<dir>/<first seq, 12 digits>.jsonl`, one envelope per line, a new segment every
 * 10,000 events. A line is appended whole and flushed before the mutation is answered; a torn last line (a crash
 * mid-append) is cut off at open, so every line stays one whole envelope.
 */
export class FileEventLog implements EventLog {
  /** First seq of each segment, ascending. */
  #segments: number[] = [];
  #latest = 0;
  #tail: LoggedEvent[] = [];
  #file: fsp.FileHandle | undefined;
  #fileSegment = 0;

  private constructor(private readonly dir: string) {}

  static open(dir: string): FileEventLog {
    mkdirSync(dir, { recursive: true });
    const log = new FileEventLog(dir);
    log.#segments = readdirSync(dir)
      .map((name) => /^(\d{12})\.jsonl$/.exec(name)?.[1])
      .filter((first): first is string => first !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const newest = log.#segments.at(-1);
    if (newest !== undefined) log.#latest = log.#lastSeqOf(newest);
    return log;
  }

  get latestSeq() {
    return this.#latest;
  }

  get oldestSeq() {
    return this.#segments[0] ?? this.#latest + 1;
  }

  async append(events: readonly LoggedEvent[]): Promise<void> {
    let i = 0;
    while (i < events.length) {
      const current = this.#segments.at(-1);
      const first = events[i]!.seq;
      const fresh = current === undefined || first - current >= SEGMENT_EVENTS;
      if (fresh) this.#segments.push(first);
      const segment = this.#segments.at(-1)!;
      const room = segment + SEGMENT_EVENTS - first;
      const chunk = events.slice(i, i + room);
      const file = await this.#open(segment);
      await file.write(chunk.map((e) => `${e.line}\n`).join(''));
      await file.datasync();
      if (fresh) await syncDir(this.dir);
      i += chunk.length;
    }
    this.#latest = events.at(-1)?.seq ?? this.#latest;
    this.#tail.push(...events);
    if (this.#tail.length > TAIL_EVENTS * 1.5) this.#tail = this.#tail.slice(-TAIL_EVENTS);
  }

  async truncate(seq: number): Promise<void> {
    await this.close();
    while (this.#segments.length && this.#segments.at(-1)! > seq) {
      await fsp.unlink(join(this.dir, segmentName(this.#segments.pop()!))).catch(ignoreMissing);
    }
    const segment = this.#segments.at(-1);
    if (segment !== undefined) {
      const text = readFileSync(join(this.dir, segmentName(segment)), 'utf8');
      let end = 0;
      for (let n = segment; n <= seq && end < text.length; n++) end = text.indexOf('\n', end) + 1 || text.length;
      truncateSync(join(this.dir, segmentName(segment)), Buffer.byteLength(text.slice(0, end)));
    }
    this.#latest = Math.min(this.#latest, seq);
    this.#tail = this.#tail.filter((e) => e.seq <= seq);
  }

  async read(since: number, limit: number, keep: (event: LoggedEvent) => boolean = () => true): Promise<LoggedEvent[]> {
    const out: LoggedEvent[] = [];
    const tailStart = this.#tail[0]?.seq ?? this.#latest + 1;
    if (since + 1 < tailStart) {
      // Older than the in-memory tail: read the segments that hold it, one at a time.
      for (const [i, first] of this.#segments.entries()) {
        const next = this.#segments[i + 1] ?? Infinity;
        if (next <= since + 1 || first >= tailStart) continue;
        for (const event of await this.#readSegmentAsync(first)) {
          if (event.seq > since && event.seq < tailStart && keep(event)) out.push(event);
          if (out.length >= limit) return out;
        }
      }
    }
    for (const event of this.#tail) {
      if (out.length >= limit) break;
      if (event.seq > since && keep(event)) out.push(event);
    }
    return out;
  }

  prune(now: number, maxAgeMs: number, keep: number): void {
    // A segment goes when all of it is old (its file was last written before the cut-off) and all of it lies
    // beyond the newest `keep` events; the newest segment always stays.
    while (this.#segments.length > 1) {
      const [first, next] = [this.#segments[0]!, this.#segments[1]!];
      const path = join(this.dir, segmentName(first));
      const lastSeq = next - 1;
      if (this.#latest - lastSeq < keep || now - statSync(path).mtimeMs < maxAgeMs) break;
      unlinkSync(path);
      this.#segments.shift();
    }
  }

  async close(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }

  async #open(segment: number): Promise<fsp.FileHandle> {
    if (this.#file && this.#fileSegment === segment) return this.#file;
    await this.close();
    this.#file = await fsp.open(join(this.dir, segmentName(segment)), 'a', 0o644);
    this.#fileSegment = segment;
    return this.#file;
  }

  /**
   * The last seq of the newest segment, read at startup without parsing the whole file. A torn last line (a crash
   * mid-append) is cut off, so the next append starts a whole line; an unparseable whole line, which only damage
   * from outside could leave, makes the segment be parsed line by line and cut at the first bad one.
   */
  #lastSeqOf(first: number): number {
    const path = join(this.dir, segmentName(first));
    const text = readFileSync(path, 'utf8');
    const end = text.lastIndexOf('\n') + 1;
    const cut = (chars: number) => {
      truncateSync(path, Buffer.byteLength(text.slice(0, chars)));
      const fd = openSync(path, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    };
    if (end < text.length) cut(end);
    if (end === 0) return first - 1;
    try {
      return parseLine(text.slice(text.lastIndexOf('\n', end - 2) + 1, end - 1)).seq;
    } catch {
      return parseSegment(text.slice(0, end), cut).at(-1)?.seq ?? first - 1;
    }
  }

  async #readSegmentAsync(first: number): Promise<LoggedEvent[]> {
    return parseSegment(await fsp.readFile(join(this.dir, segmentName(first)), 'utf8').catch(() => ''));
  }
}

function parseSegment(text: string, cut?: (bytes: number) => void): LoggedEvent[] {
  const events: LoggedEvent[] = [];
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const line = end === -1 ? null : text.slice(start, end);
    let event: LoggedEvent | undefined;
    try {
      event = line === null ? undefined : parseLine(line);
    } catch {
      event = undefined;
    }
    if (!event) {
      cut?.(Buffer.byteLength(text.slice(0, start)));
      break;
    }
    events.push(event);
    start = end + 1;
  }
  return events;
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
