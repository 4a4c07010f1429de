// The data-directory lock (contract §22.1): one server per DATA_DIR; a lock left by a dead process is taken over.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EngineLockedError } from '../engine.js';

interface Holder {
  pid: number;
  host: string;
  /** The holder's start time as the kernel counts it (Linux), so a reused PID is not taken for the holder. */
  start?: string;
  since: number;
}

const LOCK = '.lock';
const TAKEOVER = '.lock.takeover';

/** The calling process's start time from /proc (Linux), or undefined elsewhere. */
function startOf(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat, counted after the command name (which may hold spaces) ends with ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(holder: Holder): boolean {
  if (holder.host !== hostname()) return true; // another machine's process cannot be checked: assume it lives
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = startOf(holder.pid);
  return !(holder.start && start && start !== holder.start);
}

function readHolder(path: string): Holder | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8'));
    return typeof value?.pid === 'number' && typeof value.host === 'string' ? value : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { pid: -1, host: '?', since: 0 }; // unreadable: a lock nobody can claim to hold
  }
}

const describe = (h: Holder) => `process ${h.pid} on ${h.host}, since ${new Date(h.since).toISOString()}`;

/** A held lock: released on close (a `kill -9` leaves the file, which the next server takes over as stale). */
export interface DataDirLock {
  release(): void;
}

/**
 * Takes `DATA_DIR/.lock` (created exclusively, holding PID, host and start time). Throws `EngineLockedError`
 * naming the holder when a live process holds it. A lock whose process no longer exists on this host is taken over
 * (with `warn`); two servers taking over at once are serialised by a second exclusive file, so one of them wins.
 */
export function lockDataDir(dir: string, warn: (message: string) => void): DataDirLock {
  const path = join(dir, LOCK);
  const me: Holder = { pid: process.pid, host: hostname(), start: startOf(process.pid), since: Date.now() };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(path, text, { flag: 'wx', mode: 0o644 });
      return { release: () => releaseIfMine(path, me) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(path);
    if (!holder) continue; // released meanwhile: try again
    if (holder.pid === -1 || alive(holder)) {
      const who = holder.pid === -1 ? 'an unreadable lock file' : describe(holder);
      throw new EngineLockedError(`The data directory ${dir} is in use by another Maestro server (${who}; lock file ${path})`);
    }
    // Stale. Only one server may take it over: whoever creates the takeover file first.
    const takeover = join(dir, TAKEOVER);
    try {
      writeFileSync(takeover, text, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const other = readHolder(takeover);
      if (other && other.pid !== -1 && !alive(other)) unlinkSync(takeover);
      continue;
    }
    try {
      const again = readHolder(path);
      if (again && again.pid === holder.pid && again.since === holder.since) {
        writeFileSync(`${path}.${process.pid}`, text);
        renameSync(`${path}.${process.pid}`, path);
        warn(`Took over the lock of ${describe(holder)}, which no longer runs (${path})`);
        return { release: () => releaseIfMine(path, me) };
      }
    } finally {
      unlinkSync(takeover);
    }
  }
  throw new EngineLockedError(`Could not take the lock of the data directory ${dir} (${path}): it keeps changing hands`);
}

function releaseIfMine(path: string, me: Holder): void {
  const holder = readHolder(path);
  if (holder?.pid === me.pid && holder.since === me.since) unlinkSync(path);
}
