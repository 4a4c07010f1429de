// The runner's temporary directory, made safe to hold agents' output: per user, 0700, never someone else's or a link.
import { lstatSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Creates `dir` (and its parent) with mode 0700 and checks each: a real directory (not a symlink), owned by this
 * user, unreadable by others. In a shared `/tmp`, another user could otherwise create the path first and read or
 * plant what the runner writes there (terminal logs, exit files).
 */
export function ensurePrivateDir(dir: string): void {
  for (const path of [dirname(dir), dir]) {
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stat = lstatSync(path);
    if (stat.isSymbolicLink() || !stat.isDirectory()) throw new Error(`${path} is not a directory (a symlink?): refusing to use it`);
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid) throw new Error(`${path} belongs to another user: refusing to use it`);
    if ((stat.mode & 0o077) !== 0)
      throw new Error(`${path} is open to other users (mode ${(stat.mode & 0o777).toString(8)}): refusing to use it`);
  }
}
