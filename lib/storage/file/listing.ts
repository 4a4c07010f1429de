// Listing the entity files at startup, with each file's signature, in a helper thread that starts with the process.
import * as fs from 'node:fs';
import { sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { KINDS } from '../engine.js';

/** The snapshot's file name in the data directory. */
export const SNAPSHOT_FILE = 'snapshot.jsonl';

/**
 * What identifies one version of an entity file: inode, size, modification and change times. A file replaced by the
 * server (a rename) or edited by a person changes it, so a stale snapshot entry is never taken for the file. Empty
 * for a file changed in the last 100 ms: file times are coarse (a clock tick), so a later write in the same tick to
 * a reused inode could look the same. Self-contained: it also runs as source text in the listing thread.
 */
export function signatureOf(st: Pick<fs.Stats, 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>, now: number): string {
  return now - Math.max(st.mtimeMs, st.ctimeMs) > 100 ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : '';
}

/**
 * The entity files held against the snapshot: `fresh[i]` is 1 when the snapshot's entry `i` stands for its file as
 * the file is now (same signature), so it is taken from the snapshot; `keys` (`tasks:p:t.json`) are every other
 * entity file, to be read, with their `signatures` (`signatureOf`: empty when too recent to trust).
 */
export interface Listing {
  keys: string[];
  signatures: string[];
  fresh: Uint8Array;
  /** Temporary files (`.….tmp`) in the entity directories: left by a server that stopped in the middle of a write. */
  temps: string[];
}

/**
 * The path and signature a snapshot entry line starts with (`["path","signature",…`; the server writes no quote
 * into either), if `start` (the line or its beginning) holds them. Self-contained: it also runs as source text in
 * the listing thread.
 */
export function entryHead(start: Buffer): [path: string, signature: string] | undefined {
  const q = start.indexOf(34, 2);
  const s = q === -1 ? -1 : start.indexOf(34, q + 3);
  if (start[0] !== 91 || start[1] !== 34 || q === -1 || start[q + 1] !== 44 || start[q + 2] !== 34 || s === -1) return undefined;
  return [start.toString('latin1', 2, q), start.toString('latin1', q + 3, s)];
}

/**
 * Lists and stats every entity file, then goes through the snapshot's entry lines (after its header line) and marks
 * fresh each whose file has the signature it records. Self-contained (it runs as source text in a helper thread):
 * the walk skips hidden entries (noting temporary files); a file that cannot be stat-ed gets an empty signature, so it is
 * read (and its error reported). The snapshot is only matched here: the caller parses and checks it, and lists again
 * without it when it is damaged. Exported for its tests, which read the snapshot in tiny chunks.
 */
export function listAndStat(
  base: string,
  kinds: readonly string[],
  now: number,
  fsm: typeof fs,
  separator: string,
  sign: typeof signatureOf,
  head: typeof entryHead,
  snapshot?: string,
  chunkSize = 1 << 20,
): Listing {
  // Paths as the snapshot spells them (`tasks/p/t.json`), where each path is, and each file's stat figures (numbers,
  // not signature strings: tens of thousands of strings that live through the walk cost the thread's collector more
  // than making each signature again, once, as it is compared).
  const paths: string[] = [];
  const figures: number[] = [];
  const at = new Map<string, number>();
  const signatureAt = (i: number) =>
    sign({ ino: figures[4 * i]!, size: figures[4 * i + 1]!, mtimeMs: figures[4 * i + 2]!, ctimeMs: figures[4 * i + 3]! }, now);
  const temps: string[] = [];
  const walk = (dir: string, prefix: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fsm.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) {
        if (entry.isFile() && entry.name.endsWith('.tmp')) temps.push(dir + separator + entry.name);
        continue;
      }
      if (entry.isDirectory()) walk(dir + separator + entry.name, `${prefix + entry.name}/`);
      else if (entry.isFile() && entry.name.endsWith('.json')) {
        let st: fs.Stats | undefined;
        try {
          st = fsm.statSync(dir + separator + entry.name);
        } catch {}
        const path = prefix + entry.name;
        at.set(path, paths.length);
        paths.push(path);
        // A file that cannot be stat-ed has no signature (NaN figures): it is read, and its error reported.
        if (st) figures.push(st.ino, st.size, st.mtimeMs, st.ctimeMs);
        else figures.push(Number.NaN, Number.NaN, Number.NaN, Number.NaN);
      }
    }
  };
  for (const kind of kinds) walk(base + separator + kind, `${kind}/`);
  const taken = new Uint8Array(paths.length);
  const fresh: number[] = [];
  /** Looks at the start of entry line `line`: false while it may hold too little to tell (the rest is to come). */
  const take = (line: number, start: Buffer) => {
    const entry = head(start);
    if (!entry && start.length < 4096) return false;
    const i = entry && entry[1] !== '' ? at.get(entry[0]) : undefined;
    fresh[line] = i !== undefined && !taken[i] && signatureAt(i) === entry![1] ? (taken[i] = 1) : 0;
    return true;
  };
  let fd: number | undefined;
  try {
    if (snapshot !== undefined) fd = fsm.openSync(snapshot, 'r');
  } catch {}
  // Line by line, a chunk at a time; of each line only its start is looked at (line -1 is the header).
  let line = -1;
  let known = true;
  let pending: Buffer | undefined;
  for (let position = 0, ended = fd === undefined; !ended; ) {
    const chunk = Buffer.allocUnsafe(chunkSize);
    let read = fsm.readSync(fd!, chunk, 0, chunk.length, position);
    position += read;
    const nul = chunk.subarray(0, read).indexOf(0);
    if (nul !== -1) read = nul;
    ended = read === 0 || nul !== -1;
    const data = chunk.subarray(0, read);
    for (let from = 0; from < read; ) {
      const nl = data.indexOf(10, from);
      const end = nl === -1 ? read : nl;
      if (!known) {
        const part = data.subarray(from, Math.min(end, from + 4096));
        const start = pending ? Buffer.concat([pending, part]) : part;
        known = take(line, start);
        pending = known ? undefined : start;
      }
      if (nl === -1) break;
      line++;
      known = false;
      pending = undefined;
      from = nl + 1;
    }
  }
  if (fd !== undefined) fsm.closeSync(fd);
  const listing: Listing = { keys: [], signatures: [], fresh: Uint8Array.from(fresh), temps };
  paths.forEach((path, i) => {
    if (taken[i]) return;
    listing.keys.push(path.replaceAll('/', ':'));
    listing.signatures.push(signatureAt(i));
  });
  return listing;
}

/**
 * Lists and stats the entity files and matches them with the snapshot in a helper thread, while the caller parses
 * the snapshot: at 100,000 files that is most of a second the event loop does not spend, and none of the listing's
 * strings are left in the server's heap. Without a thread (one could not start), in this one.
 */
function list(base: string): Promise<Listing> {
  const snapshot = base + sep + SNAPSHOT_FILE;
  const source = `const { parentPort, workerData: w } = require('node:worker_threads');
const args = [w.base, w.kinds, w.now, require('node:fs'), require('node:path').sep, ${signatureOf}, ${entryHead}, w.snapshot];
const listing = (${listAndStat.toString()})(...args);
parentPort.postMessage(listing, [listing.fresh.buffer]);`;
  return new Promise<Listing>((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { base, kinds: KINDS, now: Date.now(), snapshot } });
    worker.once('message', (listing: Listing) => {
      resolve(listing);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', () => reject(new Error('The listing thread ended without an answer')));
  }).catch(() => listAndStat(base, KINDS, Date.now(), fs, sep, signatureOf, entryHead, snapshot));
}

/** Every entity file of `base`, to be read: the listing when the snapshot cannot be used. */
export const listWithoutSnapshot = (base: string): Listing => listAndStat(base, KINDS, Date.now(), fs, sep, signatureOf, entryHead);

const early = new Map<string, Promise<Listing>>();

/**
 * Starts listing `base` at once: the process entry calls it before it loads the server's code, so the listing is
 * done by the time the snapshot is parsed. Only reads: the data directory's lock is taken later, by the engine.
 */
export function listEarly(base: string): void {
  const listing = list(base);
  // Awaited later, by the engine, unless the server stops first (a data directory it cannot create): a failed
  // listing must not end the process as an unhandled rejection, with a stack trace, before the reason is reported.
  listing.catch(() => {});
  early.set(base, listing);
}

/** The entity files of `base`, against its snapshot: the listing `listEarly` started, or a new one. */
export function listEntityFiles(base: string): Promise<Listing> {
  const started = early.get(base);
  early.delete(base);
  return started ?? list(base);
}
