import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { defineDriver, hasDotSegment } from 'unstorage';

const TEMP_SUFFIX = '.tmp';

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
    async setItem(key, value: string) {
      await writeDurably(pathOf(key), value);
    },
    async removeItem(key) {
      const path = pathOf(key);
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

async function writeDurably(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  await fsp.mkdir(dir, { recursive: true });
  const temp = join(dir, `.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  const handle = await fsp.open(temp, 'w', 0o644);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fsp.rename(temp, path);
  } catch (error) {
    await fsp.unlink(temp).catch(() => {});
    throw error;
  }
  await syncDir(dir);
}

/** Makes a rename or unlink in `dir` durable. Some platforms cannot open directories; there it is a no-op. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r').catch(() => null);
  if (!handle) return;
  try {
    await handle.sync().catch(() => {});
  } finally {
    await handle.close();
  }
}

/** Recursive listing as `a:b:c.json` keys; hidden entries (our temporary files among them) are skipped. */
function listFiles(dir: string, prefix: string): string[] {
  const entries = readOrNull(() => readdirSync(dir, { withFileTypes: true })) ?? [];
  return entries
    .filter((entry) => !entry.name.startsWith('.'))
    .flatMap((entry) =>
      entry.isDirectory()
        ? listFiles(join(dir, entry.name), `${prefix}${entry.name}:`)
        : entry.isFile()
          ? [prefix + entry.name]
          : [],
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
