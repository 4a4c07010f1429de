// `maestro-server export` (§22.2): everything an open store holds, written out as JSON lines, a bounded chunk at a time.
import type { Db } from './db.js';
import { DUMP_VERSION, type DumpHeader, entityLine, eventLine } from './dump.js';
import { KINDS } from './engine.js';

/** What an export wrote: records per kind (`events` for the log) and the log's last `seq`. */
export interface ExportSummary {
  counts: Record<string, number>;
  records: number;
  lastSeq: number;
}

/** Lines are gathered into chunks of about this size: few writes, never the whole store in one string. */
const CHUNK_BYTES = 256 * 1024;
const EVENT_PAGE = 2000;

/**
 * Writes the header, every entity of every kind, the logged events, and the end line through `write` (awaited per
 * chunk: the caller's backpressure). The entities and the log's bounds are taken together, synchronously, when the
 * export starts, so what is written is one consistent state even if the store moves on (another instance on a
 * shared database); events after that `lastSeq` are left out. `progress` is told the running record count.
 */
export async function exportStore(
  db: Db,
  write: (chunk: string) => Promise<void>,
  progress: (records: number) => void = () => {},
  now: Date = new Date(),
): Promise<ExportSummary> {
  const lastSeq = db.events.latestSeq;
  const oldestSeq = Math.min(db.events.oldestSeq, lastSeq + 1);
  const entities = KINDS.map((kind) => [kind, [...db.all(kind)]] as const);
  const counts: Record<string, number> = {};
  for (const [kind, list] of entities) counts[kind] = list.length;
  counts.events = lastSeq - oldestSeq + 1;
  const header: DumpHeader = {
    maestroExport: DUMP_VERSION,
    engine: db.engine.name,
    exportedAt: now.toISOString(),
    lastSeq,
    oldestSeq,
    counts,
  };

  let chunk = `${JSON.stringify(header)}\n`;
  let records = 0;
  const add = async (line: string) => {
    chunk += line;
    if (++records % 10_000 === 0) progress(records);
    if (chunk.length >= CHUNK_BYTES) {
      const full = chunk;
      chunk = '';
      await write(full);
    }
  };
  for (const [kind, list] of entities) for (const entity of list) await add(entityLine(kind, entity));

  let expected = oldestSeq;
  while (expected <= lastSeq) {
    const page = await db.events.read(expected - 1, Math.min(EVENT_PAGE, lastSeq - expected + 1));
    if (page[0]?.seq !== expected) {
      // Only pruning by another instance while this export runs can do this: the header already promised the event.
      throw new Error(`Event ${expected} is no longer in the log (pruned during the export?): export again`);
    }
    for (const event of page) {
      if (event.seq !== expected) throw new Error(`The event log skips from ${expected - 1} to ${event.seq}`);
      await add(eventLine(event.line));
      expected++;
    }
  }
  await write(`${chunk}${JSON.stringify({ end: true, records })}\n`);
  progress(records);
  return { counts, records, lastSeq };
}
