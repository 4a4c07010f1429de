// A commit's writes on PostgreSQL in one statement: entities, removals, events, the feed row, the head and the NOTIFY.
import type { TransactionSql } from 'postgres';
import type { Published } from '../../domain/events.js';
import type { CommitBatch } from '../engine.js';
import { eventRecords } from './event-log.js';

/** The channel that says "commit N is in" (its number only: payloads are limited to 8,000 bytes). */
export const COMMIT_CHANNEL = 'maestro_commit';

/**
 * Writes commit `no` inside the transaction that holds the head row's lock. One statement of data-modifying CTEs
 * rather than one per table: the lock every instance's commits wait for is held for one round trip less per table.
 * A batch holds each entity once (put or removed), so the CTEs never touch the same row twice.
 */
export async function write(
  tx: TransactionSql,
  batch: CommitBatch,
  events: readonly Published[],
  no: number,
  lastSeq: number,
  instance: string,
): Promise<void> {
  const puts = batch.changes.filter((c) => c.entity);
  const removals = batch.changes.filter((c) => !c.entity);
  const records = `[${puts.map((c) => `{"kind":${JSON.stringify(c.kind)},"id":${JSON.stringify(c.id)},"body":${JSON.stringify(c.entity)}}`).join(',')}]`;
  const keys = JSON.stringify(removals.map((c) => ({ kind: c.kind, id: c.id })));
  const changes = JSON.stringify(batch.changes.map((c) => [c.kind, c.id, c.entity]));
  await tx`WITH
    puts AS (INSERT INTO maestro_entities (kind, id, body)
      SELECT kind, id, body FROM json_to_recordset(${records}::text::json) AS x(kind text, id text, body json)
      ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body RETURNING 1),
    removals AS (DELETE FROM maestro_entities e USING json_to_recordset(${keys}::text::json) AS x(kind text, id text)
      WHERE e.kind = x.kind AND e.id = x.id RETURNING 1),
    events AS (INSERT INTO maestro_events (seq, type, project_id, sessions, line)
      SELECT seq, type, project_id, sessions, line
      FROM json_to_recordset(${eventRecords(events)}::text::json) AS x(seq bigint, type text, project_id text, sessions json, line text)
      RETURNING 1),
    feed AS (INSERT INTO maestro_commits (no, instance, changes, last_seq)
      VALUES (${no}, ${instance}, ${changes}::text::json, ${lastSeq}) RETURNING 1),
    head AS (UPDATE maestro_head SET commit_no = ${no}, last_seq = ${lastSeq} RETURNING 1)
    SELECT pg_notify(${COMMIT_CHANNEL}, ${String(no)})`;
}
