// The file engine's mark of an unfinished `maestro-server import`: DATA_DIR/unfinished-import.json while one runs.
import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from './driver.js';

const NAME = 'unfinished-import.json';

/** The note of the import that has not finished in `dir`, if any (a mark that cannot be read still counts). */
export function readImportMark(dir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, NAME), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { note } = JSON.parse(text) as { note?: unknown };
    if (typeof note === 'string') return note;
  } catch {}
  return `unreadable ${NAME}`;
}

/**
 * Writes (`note`) or removes (undefined) the mark, durably: written to a temporary file, flushed, renamed into place
 * and the directory flushed, so that a crash leaves either no mark or a whole one.
 */
export async function writeImportMark(dir: string, note: string | undefined): Promise<void> {
  const path = join(dir, NAME);
  if (note === undefined) {
    await fsp.rm(path, { force: true });
  } else {
    const temp = join(dir, `.${NAME}.tmp`);
    const handle = await fsp.open(temp, 'w', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify({ note }, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(temp, path);
  }
  await syncDir(dir);
}
