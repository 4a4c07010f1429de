// An unstorage filesystem driver whose writes are atomic (temporary file and rename).
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFile } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { defineDriver, hasDotSegment } from 'unstorage';

const TEMP_SUFFIX = '.tmp';
let tempCount = 0;
/**
 * A temporary file's path beside `path` (hidden: listings skip it). Unique without a random number: one server
 * writes a data directory (its lock), and the process ID sets apart what a crashed predecessor left.
 */
const tempBeside = (path: string) => join(dirname(path), `.${process.pid}-${(tempCount++).toString(36)}${TEMP_SUFFIX}`);
const OPEN_FILES = 256;

/**
 * unstorage filesystem driver whose writes are atomic and durable (contract §1.7).
 * The stock `fs` driver writes in place, so a crash can leave a half-written file; here every write goes to a
 * temporary file in the same directory, which is flushed, renamed over the target, and the directory flushed too.
 * Keys map to paths as in the stock driver: `tasks:p1:t1.json` is `<base>/tasks/p1/t1.json`.
 * Reads and listings are synchronous on purpose: they happen only while the server loads at startup, where
 * reading thousands of small files synchronously is several times faster than through the thread pool.
 */
export const durableFsDriver = defineDriver((options: { base: string }) => {
  const base = resolve(options.base);
  const pathOf = (key: string) => {
    if (!key || hasDotSegment(key)) throw new Error(`Invalid storage key ${JSON.stringify(key)}`);
    // Plain concatenation, not path.join: this runs once per file at startup, and with no dot segment there is
    // nothing to normalise that the check below would not catch.
    const path = base + sep + key.split(':').join(sep);
    if (!path.startsWith(base + sep)) throw new Error(`Storage key escapes the base directory: ${key}`);
    return path;
  };

  return {
    name: 'durable-fs',
    options,
    hasItem(key) {
      return existsSync(pathOf(key));
    },
    getItem(key) {
      return readOrNull(() => readFileSync(pathOf(key), 'utf8'));
    },
    getItemRaw(key) {
      return readOrNull(() => readFileSync(pathOf(key)));
    },
    async setItem(key, value: string, opts: WriteOptions = {}) {
      await writeFiles([{ path: pathOf(key), data: value }], opts.sync !== false);
    },
    /**
     * A batch: every file written (and flushed), then all renamed, then each directory flushed once. With
     * `{ sync: false }` nothing is flushed: the caller's commit record already makes the batch durable, and the
     * files are flushed at its next checkpoint (the file engine's commit path).
     */
    async setItems(items: { key: string; value: string }[], opts: WriteOptions = {}) {
      await writeFiles(
        items.map(({ key, value }) => ({ path: pathOf(key), data: value })),
        opts.sync !== false,
      );
    },
    /** `setItems` with `{ sync: false }` in two steps: see `stageFiles`. Not part of unstorage: the file engine's own. */
    stageItems(items: { key: string; value: string }[]): Promise<StagedWrites> {
      return stageFiles(items.map(({ key, value }) => ({ path: pathOf(key), data: value })));
    },
    async removeItem(key, opts: WriteOptions = {}) {
      const path = pathOf(key);
      if (opts.sync === false) {
        readOrNull(() => unlinkSync(path));
        return;
      }
      const removed = await fsp.unlink(path).then(() => true, ifMissing(false));
      if (removed) await syncDir(dirname(path));
    },
    // Lists only under `base` (`tasks:` is `<base>/tasks/`): the stock driver walks the whole tree for every call.
    getKeys(prefix) {
      const parts = (prefix ?? '').split(':').filter(Boolean);
      if (parts.length === 0) return listFiles(base, '');
      return listFiles(pathOf(parts.join(':')), `${parts.join(':')}:`);
    },
    async clear() {
      await fsp.rm(base, { recursive: true, force: true });
    },
  };
});

/** `sync: false` writes (atomically, by rename) without flushing; see `setItems`. */
export interface WriteOptions {
  sync?: boolean;
}

async function writeFiles(files: readonly { path: string; data: string }[], sync: boolean): Promise<void> {
  if (!files.length) return;
  if (!sync) return (await stageFiles(files)).publish();
  const dirs = [...new Set(files.map((f) => dirname(f.path)))];
  await Promise.all(dirs.map((dir) => fsp.mkdir(dir, { recursive: true })));
  const temps = files.map((f) => tempBeside(f.path));
  try {
    // A bounded number of files open at once: one flush may carry thousands (a big inbox taking delivery).
    for (let i = 0; i < files.length; i += OPEN_FILES) {
      await settleAll(files.slice(i, i + OPEN_FILES).map((f, j) => writeAndSync(temps[i + j]!, f.data, sync)));
    }
    // Renames in order, one at a time: a failure leaves the earlier ones done and none of the later ones.
    for (const [i, f] of files.entries()) await fsp.rename(temps[i]!, f.path);
  } catch (error) {
    await Promise.all(temps.map((temp) => fsp.unlink(temp).catch(() => {})));
    throw error;
  }
  if (sync) await settleAll(dirs.map(syncDir));
}

/** Files written beside their targets and not yet seen: `publish` renames them over the targets, `discard` drops them. */
export interface StagedWrites {
  publish(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Writes each file's temporary file, without a flush: the file engine's commit does this while its journal record is
 * being flushed, and publishes only once the record is durable. Either step that fails removes every temporary file.
 *
 * Without a flush, a write only copies into the page cache, but creating the temporary file is a metadata change that
 * costs the main thread more than the thread pool's round trips do once writes come at hundreds a second. The renames
 * go to the thread pool too: on ext4, renaming over an existing file starts the new file's writeback (auto_da_alloc)
 * and can block for milliseconds on a busy disk, which must not stall the event loop.
 */
export async function stageFiles(files: readonly { path: string; data: string }[]): Promise<StagedWrites> {
  const temps = files.map((f) => tempBeside(f.path));
  // Every removal is waited for, and one that fails (the directory is gone or is not one) does not hide the cause.
  const discard = async () => {
    await Promise.all(temps.map((temp) => fsp.unlink(temp).catch(() => {})));
  };
  // The callback form: fewer promises and no FileHandle per file than fs/promises' writeFile.
  const write = (temp: string, data: string) =>
    new Promise<void>((resolve, reject) => writeFile(temp, data, { mode: 0o644 }, (error) => (error ? reject(error) : resolve())));
  try {
    // In the thread pool, all at once: the main thread goes on parsing the next requests meanwhile.
    await settleAll(
      files.map((f, i) =>
        write(temps[i]!, f.data).catch(async (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          await fsp.mkdir(dirname(f.path), { recursive: true });
          await write(temps[i]!, f.data);
        }),
      ),
    );
  } catch (error) {
    await discard();
    throw error;
  }
  const publish = async () => {
    try {
      await settleAll(files.map((f, i) => fsp.rename(temps[i]!, f.path)));
    } catch (error) {
      await discard();
      throw error;
    }
  };
  return { publish, discard };
}

async function writeAndSync(path: string, data: string, sync: boolean): Promise<void> {
  const handle = await fsp.open(path, 'w', 0o644);
  try {
    // writeFile loops until every byte is written (a short write is retried, a full disk throws).
    await handle.writeFile(data, 'utf8');
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Waits for every promise (so nothing of a failed batch lands later), then throws the first failure. */
export async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/**
 * Makes a rename or unlink in `dir` durable. Errors are real failures, except where the platform cannot flush a
 * directory at all (Windows cannot open one; some filesystems answer EINVAL or ENOTSUP to a directory fsync).
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(dir, 'r');
  } catch (error) {
    if (process.platform === 'win32') return;
    throw error;
  }
  try {
    await handle.sync().catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EINVAL' && error.code !== 'ENOTSUP') throw error;
    });
  } finally {
    await handle.close();
  }
}

/** Recursive listing as `a:b:c.json` keys; hidden entries (our temporary files among them) are skipped. */
export function listFiles(dir: string, prefix: string): string[] {
  const entries = readOrNull(() => readdirSync(dir, { withFileTypes: true })) ?? [];
  return entries
    .filter((entry) => !entry.name.startsWith('.'))
    .flatMap((entry) =>
      entry.isDirectory() ? listFiles(join(dir, entry.name), `${prefix}${entry.name}:`) : entry.isFile() ? [prefix + entry.name] : [],
    );
}

function readOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch (error) {
    return ifMissing(null)(error as NodeJS.ErrnoException);
  }
}

function ifMissing<T>(fallback: T) {
  return (error: NodeJS.ErrnoException): T => {
    if (error.code === 'ENOENT') return fallback;
    throw error;
  };
}

/** Flushes a file written earlier without a flush (a checkpoint); a file removed since is not an error. */
export async function syncFile(path: string): Promise<import('node:fs').Stats | undefined> {
  const handle = await fsp.open(path, 'r').catch(ifMissing(undefined));
  if (!handle) return undefined;
  try {
    await handle.sync();
    return await handle.stat();
  } finally {
    await handle.close();
  }
}
