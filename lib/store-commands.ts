// `maestro-server export` and `maestro-server import` (§22.2): moving a store between engines, and backing it up.
import { existsSync } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { type Config, describeStore, parseConfig } from './config.js';
import { EventHub } from './domain/events.js';
import { createLogger, type Logger } from './log.js';
import { PACKAGE_INFO } from './package-root.js';
import { Db } from './storage/db.js';
import { DumpError } from './storage/dump.js';
import { EngineLockedError, type StorageEngine, UnfinishedImportError } from './storage/engine.js';
import { exportStore } from './storage/export.js';
import { syncDir } from './storage/file/driver.js';
import { FileEngine } from './storage/file/engine.js';
import { checkDump, describeContents, importStore } from './storage/import.js';
import { PostgresEngine } from './storage/postgres/engine.js';

const HELP_AFTER = `
With no command, maestro-server starts the server (configured by environment variables: PORT, HOST, DATA_DIR,
DATABASE_URL, MAESTRO_TOKEN, …; see docs/configuration.md).

export and import work on the store the server would use: DATA_DIR (the file engine), or DATABASE_URL (PostgreSQL).
The file engine's store must not be in use: export and import take its lock, so stop the server first. A PostgreSQL
store may be exported while servers run on it (the export is one consistent state). Import needs an empty store.

Examples:
  maestro-server export --out backup.jsonl
  DATA_DIR=~/.maestro/data maestro-server export --out move.jsonl
  DATABASE_URL=postgres://maestro@db/maestro maestro-server import move.jsonl`;

/** Runs `maestro-server <argv>` when it names a command (not the server); resolves to the exit code. */
export async function runStoreCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  /** Stops an export as Ctrl-C does (its reason the signal's name): for runs in-process. */
  signal?: AbortSignal,
): Promise<number> {
  const say = (text: string) => void process.stderr.write(`${text}\n`);
  let code = 0;
  const program = new Command('maestro-server')
    .description('Maestro Server: run it with no command to serve; or export and import its store (JSON lines).')
    .version(PACKAGE_INFO.version)
    .exitOverride()
    .showHelpAfterError()
    .addHelpText('after', HELP_AFTER);
  program
    .command('export')
    .description('Write everything the store holds as JSON lines (to stdout, or to --out FILE)')
    .option('--out <file>', 'write to FILE (through a temporary file, renamed once complete) instead of stdout')
    .action(async (opts: { out?: string }) => {
      code = await withStore(env, say, (config) => exportCommand(config, opts.out, say, signal));
    });
  program
    .command('import')
    .description('Load an export into an empty store (file → file, file → PostgreSQL, PostgreSQL → file, …)')
    .argument('<file>', 'a file written by maestro-server export')
    .action(async (file: string) => {
      code = await withStore(env, say, (config) => importCommand(config, file, say));
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return error.exitCode;
  }
  return code;
}

/** Reads the configuration and turns the failures a person can act on into a message and exit 1. */
async function withStore(env: NodeJS.ProcessEnv, say: (text: string) => void, work: (config: Config) => Promise<void>): Promise<number> {
  try {
    await work(parseConfig(env));
    return 0;
  } catch (error) {
    // Configuration, a held lock, a bad file, a non-empty store, an unreachable database: the message says which.
    say(`maestro-server: ${(error as Error).message ?? error}`);
    return error instanceof Interrupted ? error.exitCode : 1;
  }
}

class StoreError extends Error {}

/** Ctrl-C (SIGINT) or SIGTERM stopped the command; its exit code is the shell's for that signal. */
class Interrupted extends StoreError {
  readonly exitCode: number;
  constructor(signal: string, what: string) {
    super(`export interrupted (${signal}): ${what}`);
    this.exitCode = signal === 'SIGTERM' ? 143 : 130;
  }
}

/**
 * SIGINT and SIGTERM abort the returned signal (and `given` does too, for runs in-process), so the export stops at
 * its next write and cleans up: killed by the signal's default action, it left the store's lock and its temporary
 * `.FILE.<pid>.tmp` behind. A second signal ends the process at once.
 */
function interruptible(given: AbortSignal | undefined) {
  const stop = new AbortController();
  const onSignal = (name: NodeJS.Signals) => (stop.signal.aborted ? process.exit(name === 'SIGTERM' ? 143 : 130) : stop.abort(name));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const forward = () => stop.abort(given?.reason ?? 'SIGINT');
  if (given?.aborted) forward();
  else given?.addEventListener('abort', forward, { once: true });
  return {
    signal: stop.signal,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      given?.removeEventListener('abort', forward);
    },
  };
}

/**
 * Opens the store the server would use, as the server does (the file engine's lock, recovery after a crash);
 * `importing`: also a store that an unfinished import left (which the import itself then refuses, saying so).
 */
async function openStore(config: Config, log: Logger, importing = false): Promise<Db> {
  const engine: StorageEngine =
    config.databaseType === 'postgres'
      ? new PostgresEngine({ url: config.databaseUrl!, log })
      : new FileEngine({ dir: config.dataDir, log });
  try {
    return await Db.open({ engine, hub: new EventHub(log), log, importing });
  } catch (error) {
    if (error instanceof EngineLockedError) {
      throw new StoreError(`${error.message}. Stop that server first: export and import need the data directory to themselves.`);
    }
    throw error;
  }
}

/** Counts on stderr: every 10,000 records while a person watches (a terminal), and always the total at the end. */
const progressTo = (say: (text: string) => void, verb: string) => (records: number) => {
  if (process.stderr.isTTY && records % 10_000 === 0) say(`${verb} ${records} records…`);
};

async function exportCommand(config: Config, out: string | undefined, say: (text: string) => void, given?: AbortSignal): Promise<void> {
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  if (config.databaseType === 'file' && !existsSync(config.dataDir)) {
    throw new StoreError(`there is no data directory at ${config.dataDir} (set DATA_DIR, or DATABASE_URL for PostgreSQL)`);
  }
  const target = out ? await openTarget(out) : undefined;
  const interrupt = interruptible(given);
  let done = false;
  try {
    const db = await openStore(config, log);
    try {
      const write = async (chunk: string) => {
        if (interrupt.signal.aborted) {
          throw new Interrupted(String(interrupt.signal.reason), out ? `nothing was written to ${out}` : 'the output is incomplete');
        }
        await (target ? target.write : writeStdout)(chunk);
      };
      const summary = await exportStore(db, write, progressTo(say, 'Exported')).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EPIPE') return undefined; // `export | head`: the reader has all it wanted
        throw error;
      });
      if (!summary) return;
      const kinds = Object.entries(summary.counts).filter(([, n]) => n > 0);
      say(
        `Exported ${summary.records} records from ${describeStore(config)} (${kinds.map(([k, n]) => `${n} ${k}`).join(', ') || 'nothing'}; last seq ${summary.lastSeq})${out ? ` to ${out}` : ''}`,
      );
    } finally {
      await db.close();
    }
    await target?.finish();
    done = true;
  } finally {
    if (!done) await target?.abandon();
    interrupt.release();
  }
}

/** Resolves once the chunk is written; rejects when it cannot be (EPIPE: the reader went away). */
function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => void process.stdout.write(chunk, (error) => (error ? reject(error) : resolve())));
}

/** `--out FILE`: a temporary file beside it (owner-only: it holds token hashes), flushed and renamed when complete. */
async function openTarget(path: string) {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const file = await open(temporary, 'w', 0o600);
  let position = 0;
  return {
    write: async (chunk: string) => {
      const data = Buffer.from(chunk);
      for (let at = 0; at < data.length; ) at += (await file.write(data, at, data.length - at, position + at)).bytesWritten;
      position += data.length;
    },
    finish: async () => {
      await file.sync();
      await file.close();
      await rename(temporary, path);
      await syncDir(dirname(path));
    },
    abandon: async () => {
      await file.close().catch(() => {});
      await unlink(temporary).catch(() => {});
    },
  };
}

async function importCommand(config: Config, file: string, say: (text: string) => void): Promise<void> {
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  // The whole file is checked before the store is even opened: bad input writes nothing anywhere. So it is read
  // twice, which a pipe cannot be: its second read is empty, and an import of nothing would look like success.
  const regular = await stat(file).then(
    (st) => st.isFile() || st.isDirectory(),
    () => true,
  );
  if (!regular) {
    throw new StoreError(
      `${file} is not a regular file (a pipe?): import reads it twice, to check it whole and then to load it. Save the export to a file first (maestro-server export --out FILE). Nothing was imported.`,
    );
  }
  const header = await checkDump(file, progressTo(say, 'Checked')).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'EISDIR' || error.code === 'EACCES')
      throw new StoreError(`cannot read ${file}: ${error.message}`);
    if (error instanceof DumpError) throw new StoreError(`${file}: ${error.message}. Nothing was imported.`);
    throw error;
  });
  const db = await openStore(config, log, true);
  try {
    const held = describeContents(db);
    const unfinished = db.engine.unfinishedImport;
    if (held && unfinished !== undefined) throw new StoreError(`${new UnfinishedImportError(unfinished).message} Nothing was imported.`);
    if (held) {
      const empty =
        config.databaseType === 'postgres'
          ? 'point DATABASE_URL at a new database, or drop and create this one again'
          : 'point DATA_DIR at a new directory, or move this one aside';
      throw new StoreError(
        `the store at ${describeStore(config)} is not empty (${held}): import needs an empty store: ${empty}. Nothing was imported.`,
      );
    }
    // Marked until the last record is in: a store an import stopped in the middle of is never served as a whole one.
    await db.engine.markImport(`maestro-server import ${resolve(file)}, started ${new Date().toISOString()}`);
    const records = await importStore(db, file, header, progressTo(say, 'Imported'));
    // The second read must have loaded what the first checked (the file was not replaced or cut in between);
    // otherwise the mark stays, and the store is known to hold only part of the export.
    const checked = Object.values(header.counts).reduce((sum, n) => sum + n, 0);
    if (records !== checked) {
      throw new StoreError(
        `${file} changed while it was imported: ${checked} records were checked, ${records} loaded. The store holds only part of it (marked so): import again into an empty store.`,
      );
    }
    await db.engine.markImport(undefined);
    say(
      `Imported ${records} records (exported from the ${header.engine} engine at ${header.exportedAt}) into ${describeStore(config)}; events continue after seq ${header.lastSeq}`,
    );
  } finally {
    await db.close();
  }
}
