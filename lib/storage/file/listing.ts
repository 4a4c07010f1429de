// Listing the entity files at startup, with each file's signature, in a helper thread that starts with the process.
import * as fs from 'node:fs';
import { sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { KINDS } from '../engine.js';

/**
 * What identifies one version of an entity file: inode, size, modification and change times. A file replaced by the
 * server (a rename) or edited by a person changes it, so a stale snapshot entry is never taken for the file. Empty
 * for a file changed in the last 100 ms: file times are coarse (a clock tick), so a later write in the same tick to
 * a reused inode could look the same. Self-contained: it also runs as source text in the listing thread.
 */
export function signatureOf(st: Pick<fs.Stats, 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>, now: number): string {
  return now - Math.max(st.mtimeMs, st.ctimeMs) > 100 ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : '';
}

/** Every entity file (`tasks:p:t.json` keys) and its signature (`signatureOf`: empty when too recent to trust). */
export interface Listing {
  keys: string[];
  signatures: string[];
}

/**
 * Lists and stats every entity file. Self-contained (it runs as source text in a helper thread): the walk skips
 * hidden entries (temporary files); a file that cannot be stat-ed gets an empty signature, so it is read (and its
 * error reported) like any file the snapshot does not know.
 */
function listAndStat(base: string, kinds: readonly string[], now: number, fsm: typeof fs, separator: string, sign: typeof signatureOf) {
  const keys: string[] = [];
  const signatures: string[] = [];
  const walk = (dir: string, prefix: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fsm.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) walk(dir + separator + entry.name, `${prefix + entry.name}:`);
      else if (entry.isFile() && entry.name.endsWith('.json')) {
        let signature = '';
        try {
          signature = sign(fsm.statSync(dir + separator + entry.name), now);
        } catch {}
        keys.push(prefix + entry.name);
        signatures.push(signature);
      }
    }
  };
  for (const kind of kinds) walk(base + separator + kind, `${kind}:`);
  return { keys, signatures };
}

/**
 * Lists and stats the entity files in a helper thread, while the caller reads the snapshot: at 100,000 files that
 * is most of a second the event loop does not spend. Without a thread (one could not start), in this one.
 */
function list(base: string): Promise<Listing> {
  const source = `const { parentPort, workerData: w } = require('node:worker_threads');
const args = [w.base, w.kinds, w.now, require('node:fs'), require('node:path').sep, ${signatureOf.toString()}];
parentPort.postMessage((${listAndStat.toString()})(...args));`;
  return new Promise<Listing>((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { base, kinds: KINDS, now: Date.now() } });
    worker.once('message', (listing: Listing) => {
      resolve(listing);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', () => reject(new Error('The listing thread ended without an answer')));
  }).catch(() => listAndStat(base, KINDS, Date.now(), fs, sep, signatureOf));
}

const early = new Map<string, Promise<Listing>>();

/**
 * Starts listing `base` at once: the process entry calls it before it loads the server's code, so the listing is
 * done by the time the snapshot is read. Only reads: the data directory's lock is taken later, by the engine.
 */
export function listEarly(base: string): void {
  early.set(base, list(base));
}

/** The entity files of `base`: the listing `listEarly` started, or a new one. */
export function listEntityFiles(base: string): Promise<Listing> {
  const started = early.get(base);
  early.delete(base);
  return started ?? list(base);
}
