// The startup snapshot: every entity in one file, each with the signature of the entity file it stands for.
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { syncDir } from './driver.js';
import { forEachLine, openAppend, writeFully } from './lines.js';

const NAME = 'snapshot.jsonl';
/** Changes whenever the stored form of an entity does: startup takes the snapshot's entities as they are. */
const VERSION = 1;
/** Entities serialised per step; the event loop runs between steps, so a checkpoint never stalls requests long. */
const STEP = 500;

/** path (`tasks/p/t.json`) → the file's signature and the entity as the snapshot holds it. */
export type SnapshotEntries = Map<string, { signature: string; entity: unknown }>;

/**
 * Reads `DATA_DIR/snapshot.jsonl` a chunk at a time: a header, one `[path, signature, entity]` line per entity, and
 * an end line with the count. Missing → undefined; damaged (unparseable, cut short, wrong count) → undefined and
 * `onDamaged` is told, so the caller reads the files instead and writes a new snapshot.
 */
export function readSnapshot(dir: string, onDamaged: (reason: string) => void): SnapshotEntries | undefined {
  const path = join(dir, NAME);
  if (!existsSync(path)) return undefined;
  const entries: SnapshotEntries = new Map();
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
        entries.set(value[0], { signature: value[1], entity: value[2] });
        return true;
      }
      if (typeof value?.end === 'number') ended = value.end;
      else bad = 'a line that is not an entry';
      return ended !== undefined;
    });
    if (whole !== statSync(path).size && !bad) bad = 'a torn last line';
  } catch (error) {
    bad = (error as Error).message;
  }
  if (!bad && ended !== entries.size) bad = ended === undefined ? 'cut short (no end line)' : 'wrong entry count';
  if (bad) {
    onDamaged(bad);
    return undefined;
  }
  return entries;
}

/** Writes a new snapshot beside the old one, flushes it, and renames it into place. */
export async function writeSnapshot(dir: string, entries: Iterable<[path: string, signature: string, entity: unknown]>): Promise<number> {
  const temp = join(dir, `.${NAME}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await openAppend(temp);
  let position = 0;
  let count = 0;
  try {
    await file.truncate(0);
    let lines: string[] = [JSON.stringify({ maestroSnapshot: VERSION, at: Date.now() })];
    const flush = async () => {
      const data = Buffer.from(`${lines.join('\n')}\n`);
      await writeFully(file, data, position);
      position += data.length;
      lines = [];
      await new Promise((resolve) => setImmediate(resolve));
    };
    for (const entry of entries) {
      lines.push(JSON.stringify(entry));
      count++;
      if (lines.length >= STEP) await flush();
    }
    lines.push(JSON.stringify({ end: count }));
    await flush();
    await file.datasync();
  } finally {
    await file.close();
  }
  renameSync(temp, join(dir, NAME));
  await syncDir(dir);
  return count;
}
