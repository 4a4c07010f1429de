// The event log as segment files (contract §17): positional whole writes, streamed reads, retention by age, count and bytes.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type EventLog, type LoggedEvent, parseLine, SEGMENT_EVENTS } from '../event-log.js';
import { syncDir, syncFile } from './driver.js';
import { type AppendFile, forEachLine, lastLine, type OpenAppend, openAppend, writeFully } from './lines.js';

/** The newest events are also kept in memory, so a client that was away briefly resumes without a disk read. */
const TAIL_EVENTS = 10_000;
/** …but never more than this many bytes of them (a few huge events must not pin memory). */
export const TAIL_BYTES = 16 * 1024 * 1024;
const segmentName = (firstSeq: number) => `${String(firstSeq).padStart(12, '0')}.jsonl`;

/** A line of a segment, or undefined for a line damaged from outside (skipped: the events around it still count). */
function readable(line: string): LoggedEvent | undefined {
  try {
    return parseLine(line);
  } catch {
    return undefined;
  }
}

/**
 * The event log as files: `<dir>/<first seq, 12 digits>.jsonl`, one envelope per line, a new segment every 10,000
 * events. Lines are written whole (a short write is continued, a full disk fails the batch) at the position where
 * the last whole line ends, so a torn line left by a crash is overwritten; a torn last line is also cut at open.
 * Segments are read a chunk at a time, never as one string, whatever their size.
 */
export class FileEventLog implements EventLog {
  /** First seq of each segment, ascending, and each one's size in bytes. */
  #segments: number[] = [];
  #bytes = new Map<number, number>();
  #latest = 0;
  #tail: LoggedEvent[] = [];
  #tailBytes = 0;
  #file: AppendFile | undefined;
  #fileSegment = 0;
  /** Appends not yet flushed (`sync: false`), and whether a new segment's directory entry is unflushed. */
  #dirty = false;
  #dirDirty = false;

  private constructor(
    private readonly dir: string,
    private readonly openFile: OpenAppend,
  ) {}

  static open(dir: string, openFile: OpenAppend = openAppend): FileEventLog {
    mkdirSync(dir, { recursive: true });
    const log = new FileEventLog(dir, openFile);
    log.#segments = readdirSync(dir)
      .map((name) => /^(\d{12})\.jsonl$/.exec(name)?.[1])
      .filter((first): first is string => first !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const first of log.#segments) log.#bytes.set(first, statSync(join(dir, segmentName(first))).size);
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

  /** Bytes held by all segments. */
  get bytes() {
    let total = 0;
    for (const size of this.#bytes.values()) total += size;
    return total;
  }

  async append(events: readonly LoggedEvent[], options: { sync?: boolean } = {}): Promise<void> {
    let i = 0;
    while (i < events.length) {
      const current = this.#segments.at(-1);
      const first = events[i]!.seq;
      const fresh = current === undefined || first - current >= SEGMENT_EVENTS;
      if (fresh) {
        this.#segments.push(first);
        this.#bytes.set(first, 0);
        this.#dirDirty = true;
      }
      const segment = this.#segments.at(-1)!;
      const chunk = events.slice(i, i + segment + SEGMENT_EVENTS - first);
      const file = await this.#open(segment);
      const data = Buffer.from(chunk.map((e) => `${e.line}\n`).join(''));
      await writeFully(file, data, this.#bytes.get(segment)!);
      this.#bytes.set(segment, this.#bytes.get(segment)! + data.length);
      this.#dirty = true;
      i += chunk.length;
    }
    if (options.sync !== false) await this.sync();
    this.#latest = events.at(-1)?.seq ?? this.#latest;
    for (const event of events) {
      this.#tail.push(event);
      this.#tailBytes += event.line.length;
    }
    // Trimmed in steps (at half again over a cap), not one event at a time: shifting a large array is costly.
    if (this.#tail.length > TAIL_EVENTS * 1.5 || this.#tailBytes > TAIL_BYTES * 1.5) {
      let drop = Math.max(0, this.#tail.length - TAIL_EVENTS);
      for (let i = 0; i < drop; i++) this.#tailBytes -= this.#tail[i]!.line.length;
      while (this.#tailBytes > TAIL_BYTES && drop < this.#tail.length) this.#tailBytes -= this.#tail[drop++]!.line.length;
      this.#tail = this.#tail.slice(drop);
    }
  }

  async continueAfter(seq: number): Promise<void> {
    if (this.#segments.length || this.#latest) throw new Error('continueAfter needs an empty event log');
    if (seq <= 0) return;
    // An empty segment named after the next seq: at open, an empty newest segment means `latestSeq = first - 1`.
    await this.#open(seq + 1);
    this.#segments.push(seq + 1);
    this.#bytes.set(seq + 1, 0);
    this.#dirDirty = true;
    await this.sync();
    this.#latest = seq;
  }

  async sync(): Promise<void> {
    if (this.#dirty && this.#file) await this.#file.datasync();
    this.#dirty = false;
    if (this.#dirDirty) await syncDir(this.dir);
    this.#dirDirty = false;
  }

  /**
   * Flushes what was appended so far through a descriptor of its own, so appends go on meanwhile (a checkpoint).
   * Older segments were flushed when the log moved past them.
   */
  async flush(): Promise<void> {
    const segment = this.#segments.at(-1);
    if (segment !== undefined) await syncFile(join(this.dir, segmentName(segment)));
    await syncDir(this.dir);
  }

  async truncate(seq: number): Promise<void> {
    await this.close();
    while (this.#segments.length && this.#segments.at(-1)! > seq) {
      const first = this.#segments.pop()!;
      this.#bytes.delete(first);
      try {
        unlinkSync(join(this.dir, segmentName(first)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      this.#dirDirty = true;
    }
    const segment = this.#segments.at(-1);
    if (segment !== undefined) {
      const path = join(this.dir, segmentName(segment));
      let end = 0;
      forEachLine(path, (line, _start, lineEnd) => {
        if ((readable(line)?.seq ?? 0) > seq) return false;
        end = lineEnd + 1;
        return true;
      });
      cutAndFlush(path, end);
      this.#bytes.set(segment, end);
    }
    await this.sync();
    this.#latest = Math.min(this.#latest, seq);
    this.#tail = this.#tail.filter((e) => e.seq <= seq);
    this.#tailBytes = this.#tail.reduce((n, e) => n + e.line.length, 0);
  }

  async read(since: number, limit: number, keep: (event: LoggedEvent) => boolean = () => true): Promise<LoggedEvent[]> {
    const out: LoggedEvent[] = [];
    const tailStart = this.#tail[0]?.seq ?? this.#latest + 1;
    if (since + 1 < tailStart) {
      // Older than the in-memory tail: stream the segments that hold it, one at a time.
      for (const [i, first] of this.#segments.entries()) {
        const next = this.#segments[i + 1] ?? Infinity;
        if (next <= since + 1 || first >= tailStart) continue;
        forEachLine(join(this.dir, segmentName(first)), (line) => {
          const event = readable(line);
          if (!event) return true;
          if (event.seq > since && event.seq < tailStart && keep(event)) out.push(event);
          return out.length < limit && event.seq < tailStart - 1;
        });
        if (out.length >= limit) return out;
      }
    }
    for (const event of this.#tail) {
      if (out.length >= limit) break;
      if (event.seq > since && keep(event)) out.push(event);
    }
    return out;
  }

  prune(now: number, maxAgeMs: number, keep: number, maxBytes = Infinity): void {
    // A segment goes when all of it is old (its file was last written before the cut-off) and all of it lies beyond
    // the newest `keep` events, or when the log holds more than `maxBytes`; the newest segment always stays.
    let total = this.bytes;
    while (this.#segments.length > 1) {
      const [first, next] = [this.#segments[0]!, this.#segments[1]!];
      const path = join(this.dir, segmentName(first));
      const old = this.#latest - (next - 1) >= keep && now - statSync(path).mtimeMs >= maxAgeMs;
      if (!old && total <= maxBytes) break;
      unlinkSync(path);
      total -= this.#bytes.get(first) ?? 0;
      this.#bytes.delete(first);
      this.#segments.shift();
    }
  }

  async close(): Promise<void> {
    await this.sync().catch(() => {});
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }

  async #open(segment: number): Promise<AppendFile> {
    if (this.#file && this.#fileSegment === segment) return this.#file;
    // The previous segment is complete: flush it before leaving it, so `sync()` need only flush the open one.
    await this.sync();
    await this.#file?.close();
    this.#file = undefined;
    this.#file = await this.openFile(join(this.dir, segmentName(segment)));
    this.#fileSegment = segment;
    return this.#file;
  }

  /**
   * The last seq of the newest segment, read at startup from its end. A torn last line (a crash mid-append) is cut
   * off; an unparseable whole line, which only damage from outside could leave, makes the segment be streamed line
   * by line and cut at the first bad one.
   */
  #lastSeqOf(first: number): number {
    const path = join(this.dir, segmentName(first));
    const size = this.#bytes.get(first)!;
    const last = lastLine(path, size);
    const whole = last ? last.end + 1 : 0;
    if (whole < size) this.#cut(first, whole);
    if (!last) return first - 1;
    try {
      return parseLine(last.line).seq;
    } catch {
      let seq = first - 1;
      let good = 0;
      forEachLine(path, (line, _start, end) => {
        try {
          seq = parseLine(line).seq;
        } catch {
          return false;
        }
        good = end + 1;
        return true;
      });
      this.#cut(first, good);
      return seq;
    }
  }

  #cut(first: number, bytes: number): void {
    cutAndFlush(join(this.dir, segmentName(first)), bytes);
    this.#bytes.set(first, bytes);
  }
}

/** Truncates a file and flushes the truncation, so a crash cannot bring the cut bytes back. */
function cutAndFlush(path: string, bytes: number): void {
  truncateSync(path, bytes);
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
