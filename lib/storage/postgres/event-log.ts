// The event log of the PostgreSQL engine (contract §17): the maestro_events table, read by `seq`.
import type { Sql } from 'postgres';
import type { EventLog, LoggedEvent } from '../event-log.js';

interface EventRow {
  seq: number;
  type: string;
  project_id: string | null;
  sessions: string | null;
  line: string;
}

export const fromRow = (row: EventRow): LoggedEvent => ({
  seq: row.seq,
  type: row.type,
  line: row.line,
  projectId: row.project_id ?? undefined,
  sessions: row.sessions === null ? undefined : (JSON.parse(row.sessions) as string[]),
});

/** The rows of `events` as one JSON text, for `json_to_recordset` (one statement however many events). */
export const eventRecords = (events: readonly LoggedEvent[]): string =>
  JSON.stringify(
    events.map((e) => ({ seq: e.seq, type: e.type, project_id: e.projectId ?? null, sessions: e.sessions ?? null, line: e.line })),
  );

/** Inserts events (numbered already) through `sql`, which may be a transaction. */
export async function insertEvents(sql: Sql, events: readonly LoggedEvent[]): Promise<void> {
  if (!events.length) return;
  await sql`INSERT INTO maestro_events (seq, type, project_id, sessions, line)
    SELECT seq, type, project_id, sessions, line
    FROM json_to_recordset(${eventRecords(events)}::text::json) AS x(seq bigint, type text, project_id text, sessions json, line text)`;
}

/**
 * The log's bounds are what this instance has applied: `latestSeq` moves when the engine commits or applies another
 * instance's commit, so a reader here never passes an event this instance has not sent its clients yet.
 */
export class PgEventLog implements EventLog {
  latestSeq = 0;
  oldestSeq = 1;

  constructor(
    private readonly sql: Sql,
    private readonly onError: (message: string, error: unknown) => void,
  ) {}

  /** Used by imports only (commits append through their own transaction): the head row moves with the events. */
  async append(events: readonly LoggedEvent[]): Promise<void> {
    if (!events.length) return;
    const last = events.at(-1)!.seq;
    await this.sql.begin(async (tx) => {
      await insertEvents(tx as unknown as Sql, events);
      await tx`UPDATE maestro_head SET last_seq = greatest(last_seq, ${last})`;
    });
    this.latestSeq = Math.max(this.latestSeq, last);
    await this.refreshOldest();
  }

  async continueAfter(seq: number): Promise<void> {
    if (seq <= 0) return;
    const moved = await this.sql`UPDATE maestro_head SET last_seq = ${seq} WHERE last_seq = 0
      AND NOT EXISTS (SELECT 1 FROM maestro_events)`;
    if (moved.count !== 1) throw new Error('continueAfter needs an empty event log');
    this.latestSeq = seq;
    this.oldestSeq = seq + 1;
  }

  async sync(): Promise<void> {}

  async truncate(seq: number): Promise<void> {
    await this.sql`DELETE FROM maestro_events WHERE seq > ${seq}`;
    this.latestSeq = Math.min(this.latestSeq, seq);
  }

  async close(): Promise<void> {}

  async read(since: number, limit: number, keep?: (event: LoggedEvent) => boolean): Promise<LoggedEvent[]> {
    const found: LoggedEvent[] = [];
    const page = Math.max(limit, 500);
    for (let after = since; found.length < limit && after < this.latestSeq; ) {
      const rows = await this.sql<EventRow[]>`SELECT seq, type, project_id, sessions::text AS sessions, line FROM maestro_events
        WHERE seq > ${after} AND seq <= ${this.latestSeq} ORDER BY seq LIMIT ${page}`;
      if (!rows.length) break;
      for (const row of rows) {
        const event = fromRow(row);
        if (!keep || keep(event)) found.push(event);
        if (found.length === limit) break;
      }
      after = rows.at(-1)!.seq;
    }
    return found;
  }

  /** Deletes events older than `maxAgeMs` beyond the newest `keep`. `maxBytes` is the file engine's: the database's size is the operator's. */
  prune(now: number, maxAgeMs: number, keep: number): void {
    const run = async () => {
      await this
        .sql`DELETE FROM maestro_events WHERE seq <= ${this.latestSeq - keep} AND logged_at < to_timestamp(${(now - maxAgeMs) / 1000})`;
      // The commit feed other instances follow: a live instance is seconds behind, never 10,000 commits and an hour.
      await this
        .sql`DELETE FROM maestro_commits WHERE no <= (SELECT commit_no FROM maestro_head) - 10000 AND committed_at < now() - interval '1 hour'`;
      await this.refreshOldest();
    };
    run().catch((error) => this.onError('Pruning the event log failed', error));
  }

  async refreshOldest(): Promise<void> {
    const [row] = await this.sql<{ oldest: number | null }[]>`SELECT min(seq) AS oldest FROM maestro_events`;
    this.oldestSeq = row?.oldest ?? this.latestSeq + 1;
  }
}
