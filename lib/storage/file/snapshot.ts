// The startup snapshot: every entity in one file, each with the signature of the entity file it stands for.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { KINDS, type Kind } from '../engine.js';
import { syncDir } from './driver.js';
import { forEachLine, openAppend, writeFully } from './lines.js';
import { entryHead, SNAPSHOT_FILE } from './listing.js';

/** Changes whenever the stored form of an entity does: startup takes the snapshot's entities as they are. */
const VERSION = 1;
/** Entities serialised per step; the event loop runs between steps, so a checkpoint never stalls requests long. */
const STEP = 500;
const CHUNK = 1 << 20;

/**
 * The snapshot's entries in file order (`kinds[i]`, `entities[i]`: the i-th entry line); which of them stand for their
 * file as it is now is the listing's to say (`Listing.fresh`). Paths and signatures are not kept.
 */
export interface SnapshotEntries {
  kinds: Kind[];
  entities: object[];
}

/** A path's first segment → its kind, as the shared constant (the sliced segment itself is not kept). */
const kindOfPath = new Map<string, Kind>(KINDS.map((kind) => [kind, kind]));

/**
 * Reads `DATA_DIR/snapshot.jsonl` a chunk at a time: a header, one `[path, signature, entity]` line per entity, and
 * an end line with the count. Missing → undefined; damaged (unparseable, cut short, wrong count, an entry of no known
 * kind or with no entity) → undefined and `onDamaged` is told, so the caller reads the files instead and writes a new
 * snapshot.
 */
export function readSnapshot(dir: string, onDamaged: (reason: string) => void): SnapshotEntries | undefined {
  const path = join(dir, SNAPSHOT_FILE);
  if (!existsSync(path)) return undefined;
  const entries: SnapshotEntries = { kinds: [], entities: [] };
  let header = false;
  let ended: number | undefined;
  let bad: string | undefined;
  try {
    const whole = forEachLine(path, (line) => {
      const value = JSON.parse(line);
      if (!header) {
        header = value?.maestroSnapshot === VERSION;
        if (!header) bad = 'unknown header';
        return header;
      }
      if (ended !== undefined) {
        bad = 'data after the end line';
        return false;
      }
      if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') {
        const kind = kindOfPath.get(value[0].slice(0, value[0].indexOf('/')));
        if (!kind || typeof value[2] !== 'object' || value[2] === null) bad = 'an entry that is not an entity';
        entries.kinds.push(kind!);
        entries.entities.push(value[2]);
        return !bad;
      }
      if (typeof value?.end === 'number') ended = value.end;
      else bad = 'a line that is not an entry';
      return ended !== undefined;
    });
    if (whole !== statSync(path).size && !bad) bad = 'a torn last line';
  } catch (error) {
    bad = (error as Error).message;
  }
  if (!bad && ended !== entries.entities.length) bad = ended === undefined ? 'cut short (no end line)' : 'wrong entry count';
  if (bad) {
    onDamaged(bad);
    return undefined;
  }
  return entries;
}

function isHeader(line: string): boolean {
  try {
    return JSON.parse(line)?.maestroSnapshot === VERSION;
  } catch {
    return false;
  }
}

/**
 * The entry lines of the snapshot in place, as bytes (newline included), a chunk's worth at a time; none if it is
 * missing or its header is not this version's. A torn last line is left out.
 */
async function* entryLines(path: string): AsyncGenerator<Buffer[]> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return;
  try {
    let carry = Buffer.alloc(0);
    let header = false;
    for (let position = 0; ; ) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await file.read(chunk, 0, CHUNK, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      const lines: Buffer[] = [];
      let start = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
        if (header) lines.push(data.subarray(start, nl + 1));
        else if (isHeader(data.toString('utf8', start, nl))) header = true;
        else return;
        start = nl + 1;
      }
      carry = data.subarray(start);
      yield lines;
    }
  } finally {
    await file.close();
  }
}

const TEMP_PREFIX = `.${SNAPSHOT_FILE}.`;

/** Temporary snapshots in `dir`: one being written, or left by a server that stopped while writing it. */
export const snapshotTemps = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => name.startsWith(TEMP_PREFIX) && name.endsWith('.tmp'))
    .map((name) => join(dir, name));

/**
 * Writes a new snapshot beside the old one, flushes it, and renames it into place. It holds the old snapshot's entry
 * lines for the paths `keep` names, copied as they are (the entity unchanged since, so the line still stands for its
 * file), then `entries` (the entities changed since). Returns the number of entries.
 */
export async function writeSnapshot(
  dir: string,
  keep: (path: string) => boolean,
  entries: Iterable<[path: string, signature: string, entity: unknown]>,
): Promise<number> {
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.tmp`);
  const file = await openAppend(temp);
  let position = 0;
  let count = 0;
  try {
    await file.truncate(0);
    let parts: Buffer[] = [Buffer.from(`${JSON.stringify({ maestroSnapshot: VERSION, at: Date.now() })}\n`)];
    const flush = async () => {
      const data = Buffer.concat(parts);
      await writeFully(file, data, position);
      position += data.length;
      parts = [];
      await new Promise((resolve) => setImmediate(resolve));
    };
    for await (const lines of entryLines(join(dir, SNAPSHOT_FILE))) {
      for (const line of lines) {
        const head = entryHead(line);
        if (head && keep(head[0])) {
          parts.push(line);
          count++;
        }
      }
      await flush();
    }
    for (const entry of entries) {
      parts.push(Buffer.from(`${JSON.stringify(entry)}\n`));
      count++;
      if (parts.length >= STEP) await flush();
    }
    parts.push(Buffer.from(`${JSON.stringify({ end: count })}\n`));
    await flush();
    await file.datasync();
  } finally {
    await file.close();
  }
  renameSync(temp, join(dir, SNAPSHOT_FILE));
  await syncDir(dir);
  return count;
}
