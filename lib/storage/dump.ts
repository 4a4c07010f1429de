// The export format of `maestro-server export`/`import` (§22.2): JSON lines, a header, one record a line, an end line.
import { KINDS, type Kind } from './engine.js';
import { type LoggedEvent, parseLine } from './event-log.js';
import { normalizeLoaded } from './migrate.js';

/** The format version this server writes and reads. */
export const DUMP_VERSION = 1;

/**
 * The first line: what the file is, and the event log's bounds at the moment of the export. `oldestSeq` is the first
 * carried event (`lastSeq + 1` when none is carried); the importing store's `seq` continues after `lastSeq`.
 */
export interface DumpHeader {
  maestroExport: number;
  engine: string;
  exportedAt: string;
  lastSeq: number;
  oldestSeq: number;
  /** Records per kind (`events` for the log), so a reader can tell a whole file from a cut one before it loads. */
  counts: Record<string, number>;
}

/** The last line: how many records came before it (a file without it was cut short). */
export interface DumpEnd {
  end: true;
  records: number;
}

/** One record: an entity of a kind (as stored), or a logged event (its envelope as logged, secrets redacted). */
export type DumpRecord = { kind: Kind; id: string; entity: any } | { kind: 'event'; event: LoggedEvent };

/** A line that cannot be imported; `line` is its 1-based number in the file. */
export class DumpError extends Error {
  override name = 'DumpError';
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** The line of an entity record (keys first, so a reader sees the kind before a large entity). */
export const entityLine = (kind: Kind, entity: unknown): string => `{"kind":"${kind}","entity":${JSON.stringify(entity)}}\n`;
/** The line of an event record: the logged line embedded as it is (it is JSON already). */
export const eventLine = (line: string): string => `{"kind":"event","event":${line}}\n`;

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(text: string, at: number): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DumpError(at, `not JSON (${(error as Error).message}): the file is damaged or cut short`);
  }
}

/** Reads the header line, refusing anything that is not a Maestro export of a version this server reads. */
export function parseHeader(text: string): DumpHeader {
  const value = parseJson(text, 1);
  if (!isObject(value) || !('maestroExport' in value)) throw new DumpError(1, 'not a Maestro export (no "maestroExport" header)');
  if (value.maestroExport !== DUMP_VERSION) {
    // A later format comes from a later server: say which way out there is, not only that this one cannot read it.
    const newer = typeof value.maestroExport === 'number' && value.maestroExport > DUMP_VERSION;
    throw new DumpError(
      1,
      `export format version ${JSON.stringify(value.maestroExport)} is not supported (this server reads ${DUMP_VERSION})${newer ? ': it was written by a newer maestro-server; import it with that version or a later one' : ''}`,
    );
  }
  const seq = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (
    !seq(value.lastSeq) ||
    !seq(value.oldestSeq) ||
    value.oldestSeq < 1 ||
    value.oldestSeq > value.lastSeq + 1 ||
    !isObject(value.counts)
  ) {
    throw new DumpError(1, 'the header has no valid lastSeq, oldestSeq and counts');
  }
  return value as DumpHeader;
}

/** Reads a record line (`at`: its line number): an entity checked as the file engine checks a file, or an event. */
export function parseRecord(text: string, at: number): DumpRecord | DumpEnd {
  const value = parseJson(text, at);
  if (!isObject(value)) throw new DumpError(at, 'not a record (a JSON object with "kind")');
  if (value.end === true) {
    if (typeof value.records !== 'number') throw new DumpError(at, 'the end line has no record count');
    return value as unknown as DumpEnd;
  }
  const { kind } = value;
  if (kind === 'event') {
    try {
      return { kind, event: parseLine(JSON.stringify(value.event)) };
    } catch {
      throw new DumpError(at, 'not an event envelope (no numeric "seq" and "type")');
    }
  }
  if (!KINDS.includes(kind)) throw new DumpError(at, `unknown record kind ${JSON.stringify(kind)}`);
  const loaded = normalizeLoaded(kind, value.entity);
  if (!loaded) throw new DumpError(at, `not a valid ${kind} entity`);
  return { kind, id: loaded.id, entity: loaded.entity };
}
