// The data-directory lock (contract §22.1): one server per DATA_DIR; a lock left by a dead process is taken over.
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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

/** Writes `text` to the file at `path` (`flag` as for `open`), flushed. */
function writeFlushed(path: string, text: string, flag = 'w'): void {
  const fd = openSync(path, flag, 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `path` holding `text`, or fails with EEXIST: written and flushed under a name of its own first, then
 * linked into place, so the lock never exists empty or half-written, even after `kill -9` or a power cut.
 */
function createWhole(path: string, text: string): void {
  const temp = `${path}.${process.pid}`;
  writeFlushed(temp, text);
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw error;
    // A file system without hard links: created exclusively, then written and flushed.
    writeFlushed(path, text, 'wx');
  } finally {
    unlinkSync(temp);
  }
}

/** An empty lock file: left by a server stopped before its lock reached the disk (servers now create it whole). */
const EMPTY: Holder = { pid: 0, host: '', since: 0 };

function alive(holder: Holder): boolean {
  if (holder === EMPTY) return false;
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
    const text = readFileSync(path, 'utf8');
    if (text === '') return EMPTY;
    const value = JSON.parse(text);
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
      createWhole(path, text);
      return { release: () => releaseIfMine(path, me) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(path);
    if (!holder) continue; // released meanwhile: try again
    if (holder.pid === -1 || alive(holder)) {
      const who = holder.pid === -1 ? 'an unreadable lock file' : describe(holder);
      // Another machine's process cannot be checked from here; a person can, and needs to be told how to go on.
      const elsewhere =
        holder.pid !== -1 && holder.host !== hostname()
          ? `. That server is on another machine, which this one cannot check: if it no longer runs there (this directory is a copy, or its container was replaced), remove ${path} and start again`
          : '';
      throw new EngineLockedError(`The data directory ${dir} is in use by another Maestro server (${who}; lock file ${path})${elsewhere}`);
    }
    // Stale. Only one server may take it over: whoever creates the takeover file first.
    const takeover = join(dir, TAKEOVER);
    try {
      createWhole(takeover, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const other = readHolder(takeover);
      if (other && other.pid !== -1 && !alive(other)) unlinkSync(takeover);
      continue;
    }
    try {
      const again = readHolder(path);
      if (again && again.pid === holder.pid && again.since === holder.since) {
        writeFlushed(`${path}.${process.pid}`, text);
        renameSync(`${path}.${process.pid}`, path);
        warn(
          holder === EMPTY
            ? `Took over an empty lock file, left by a server stopped before its lock reached the disk (${path})`
            : `Took over the lock of ${describe(holder)}, which no longer runs (${path})`,
        );
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
