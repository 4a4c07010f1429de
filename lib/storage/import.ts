// `maestro-server import` (§22.2): an export checked whole first, then loaded into an empty store of either engine.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Db } from './db.js';
import { DumpError, type DumpHeader, parseHeader, parseRecord } from './dump.js';
import { KINDS, type Kind } from './engine.js';
import type { LoggedEvent } from './event-log.js';

/** A commit of the import carries at most this many records, or about this many bytes of them. */
const BATCH_RECORDS = 1000;
const BATCH_BYTES = 4 * 1024 * 1024;

/** Each line of an export file after the header, with its number (a file read a chunk at a time, never whole). */
async function* lines(path: string): AsyncGenerator<[number, string]> {
  const input = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let at = 0;
  for await (const line of input) yield [++at, line];
}

/**
 * Reads the whole file and checks every line before anything is written: the header's version, every record (JSON,
 * a known kind, an entity the file engine would load, no entity twice, events in `seq` order ending at the header's
 * `lastSeq`), the end line and the counts. Throws `DumpError` naming the first bad line.
 */
export async function checkDump(path: string, progress: (records: number) => void = () => {}): Promise<DumpHeader> {
  let header: DumpHeader | undefined;
  let ended = 0;
  let last = 0;
  let records = 0;
  let nextSeq = 0;
  const seen = new Set<string>();
  const counts: Record<string, number> = Object.fromEntries([...KINDS, 'events'].map((k) => [k, 0]));
  for await (const [at, text] of lines(path)) {
    last = at;
    if (!header) {
      header = parseHeader(text);
      nextSeq = header.oldestSeq;
      continue;
    }
    if (ended) throw new DumpError(at, `a line after the end line (line ${ended})`);
    if (!text.trim()) throw new DumpError(at, 'an empty line');
    const record = parseRecord(text, at);
    if ('end' in record) {
      if (record.records !== records) throw new DumpError(at, `the end line counts ${record.records} records, the file holds ${records}`);
      ended = at;
      continue;
    }
    records++;
    if (records % 10_000 === 0) progress(records);
    if (record.kind === 'event') {
      if (record.event.seq !== nextSeq) throw new DumpError(at, `event seq ${record.event.seq} where ${nextSeq} was expected`);
      nextSeq++;
      counts.events!++;
      continue;
    }
    const key = `${record.kind}/${record.id}`;
    if (seen.has(key)) throw new DumpError(at, `${record.kind} ${record.id} appears twice`);
    seen.add(key);
    counts[record.kind]!++;
  }
  if (!header) throw new DumpError(1, 'the file is empty: not a Maestro export');
  if (!ended) throw new DumpError(last, 'the file ends here without its end line: it was cut short');
  if (nextSeq !== header.lastSeq + 1) throw new DumpError(ended, `the events end at seq ${nextSeq - 1}, the header says ${header.lastSeq}`);
  for (const [kind, count] of Object.entries(counts)) {
    if ((header.counts[kind] ?? 0) !== count)
      throw new DumpError(ended, `${count} ${kind} records, the header says ${header.counts[kind] ?? 0}`);
  }
  return header;
}

/** What an open store holds, in words; undefined when it is empty (no entity, no event ever logged). */
export function describeContents(db: Db): string | undefined {
  const held = KINDS.filter((kind) => db.count(kind) > 0).map((kind) => `${db.count(kind)} ${kind}`);
  if (db.events.latestSeq > 0) held.push(`events up to seq ${db.events.latestSeq}`);
  return held.length ? held.join(', ') : undefined;
}

/**
 * Loads a file that `checkDump` passed into an empty store, in the file's order (so lists are served in the same
 * order): entities in commits of bounded size, events appended with their own `seq`; with no event carried, the
 * log continues after the header's `lastSeq`. Returns the number of records loaded.
 */
export async function importStore(
  db: Db,
  path: string,
  header: DumpHeader,
  progress: (records: number) => void = () => {},
): Promise<number> {
  let entities: { kind: Kind; entity: any }[] = [];
  let events: LoggedEvent[] = [];
  let bytes = 0;
  let records = 0;
  const flush = async () => {
    if (entities.length) {
      const batch = entities;
      await db.mutate((tx) => {
        for (const { kind, entity } of batch) tx.put(kind, entity);
      });
    }
    if (events.length) await db.events.append(events);
    entities = [];
    events = [];
    bytes = 0;
  };
  for await (const [at, text] of lines(path)) {
    if (at === 1) continue;
    const record = parseRecord(text, at);
    if ('end' in record) break;
    // Entities before events keeps each kind's order; a switch from one to the other flushes what is gathered.
    if (record.kind === 'event') {
      if (entities.length) await flush();
      events.push(record.event);
    } else {
      if (events.length) await flush();
      entities.push(record);
    }
    bytes += text.length;
    if (++records % 10_000 === 0) progress(records);
    if (entities.length + events.length >= BATCH_RECORDS || bytes >= BATCH_BYTES) await flush();
  }
  await flush();
  if (header.counts.events === 0 && header.lastSeq > 0) await db.events.continueAfter(header.lastSeq);
  progress(records);
  return records;
}
