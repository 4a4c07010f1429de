// The `maestro` command every agent finds first on its PATH (contract §24.6): a shim for this package's own CLI.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { DIST_DIR, LIB_DIR } from '../package-root.js';

/**
 * The compiled CLI of this package: beside this module when it runs compiled, else the build in `dist/` (code run
 * from source, in tests); undefined when neither exists.
 */
export function maestroCliPath(): string | undefined {
  return [join(LIB_DIR, 'cli/main.js'), join(DIST_DIR, 'lib/cli/main.js')].find((path) => existsSync(path));
}

/** POSIX single-quoting for the shim's one command line. */
const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** The shim's text: this runner's Node running this package's CLI, whatever `node` or `maestro` PATH holds. */
export const shimScript = (node: string, cli: string) =>
  `#!/bin/sh\n# Written by maestro host: this package's CLI.\nexec ${quote(node)} ${quote(cli)} "$@"\n`;

/**
 * A directory, not writable by anyone but this user, that is not a symbolic link: a shim in a directory someone else
 * controls could be swapped for their own program, which every agent would then run.
 */
async function isPrivateDir(dir: string): Promise<boolean> {
  const info = await lstat(dir);
  const uid = process.getuid?.();
  return info.isDirectory() && (uid === undefined || info.uid === uid) && (info.mode & 0o022) === 0;
}

/**
 * Makes `<stateDir>/bin/maestro` (mode 0700, written through a rename so that no agent sees half a file) and answers
 * that `bin` directory, or undefined when there is no compiled CLI or the directory is not private to this user.
 * Cheap when the shim is already in place: it is checked on every launch, so a cleaned `/tmp` heals itself.
 */
export async function ensureMaestroShim(stateDir: string, log: (message: string) => void): Promise<string | undefined> {
  const cli = maestroCliPath();
  if (!cli) return undefined;
  const bin = join(stateDir, 'bin');
  await mkdir(bin, { recursive: true, mode: 0o700 });
  const chain = [dirname(stateDir), stateDir, bin];
  if (!(await Promise.all(chain.map(isPrivateDir))).every(Boolean)) {
    log(`not putting maestro on agents' PATH: ${bin} is not a private directory of this user`);
    return undefined;
  }
  const shim = join(bin, 'maestro');
  const script = shimScript(process.execPath, cli);
  if ((await readFile(shim, 'utf8').catch(() => '')) !== script) {
    const temporary = `${shim}.${process.pid}.tmp`;
    await rm(temporary, { force: true });
    await writeFile(temporary, script, { mode: 0o700, flag: 'wx' });
    await rename(temporary, shim);
  }
  return bin;
}

/** `PATH` with `bin` first (and not again further on). */
export const pathWith = (bin: string, path: string | undefined) =>
  [bin, ...(path ?? '').split(delimiter).filter((dir) => dir && dir !== bin)].join(delimiter);
