// The event log's interface and its line format (contract §17), shared by every storage engine.

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
 * The durable event log (contract §17): append in a commit, read from a `seq`, prune old events. The log needs
 * append and read-from-position, which a key-value store lacks, so it has this small interface of its own.
 */
export interface EventLog {
  /** The newest logged `seq` (0 when nothing was ever logged). */
  readonly latestSeq: number;
  /** The oldest `seq` still held (`latestSeq + 1` when the log is empty). */
  readonly oldestSeq: number;
  /**
   * Appends events (consecutive, starting at `latestSeq + 1`). Durable when it returns, unless `sync: false`: then
   * the caller's own commit record makes them durable, and `sync()` flushes them later.
   */
  append(events: readonly LoggedEvent[], options?: { sync?: boolean }): Promise<void>;
  /**
   * On an empty log only (an import, `maestro-server import`): the next event is `seq + 1`, across restarts, and
   * nothing older is held (a replay from before it gets `resync`/410). Durable when it returns.
   */
  continueAfter(seq: number): Promise<void>;
  /** Flushes appends made with `sync: false`. */
  sync(): Promise<void>;
  /** Undoes appends back to `seq` (a failed batch), durably; throws if it cannot. */
  truncate(seq: number): Promise<void>;
  close(): Promise<void>;
  /** Events with `seq > since`, oldest first, at most `limit`, that pass `keep`. Throws if the log cannot be read. */
  read(since: number, limit: number, keep?: (event: LoggedEvent) => boolean): Promise<LoggedEvent[]>;
  /** Deletes the oldest events that are older than `maxAgeMs` and beyond the newest `keep`, or beyond `maxBytes`. */
  prune(now: number, maxAgeMs: number, keep: number, maxBytes?: number): void;
}

export const SEGMENT_EVENTS = 10_000;

/** Reads the metadata the filters need back out of a stored envelope line. */
export function parseLine(line: string): LoggedEvent {
  const envelope = JSON.parse(line) as { seq: number; projectId?: string; type: string; data: any };
  if (typeof envelope?.seq !== 'number' || typeof envelope.type !== 'string') throw new Error('Not an event envelope');
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
