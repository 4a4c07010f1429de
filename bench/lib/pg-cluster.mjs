// A throwaway PostgreSQL cluster, for a benchmark or a test run: initdb in a temporary directory, pg_ctl on a free
// loopback port, removed at stop. PostgreSQL refuses to run as root, so as root the cluster belongs to Debian's
// `postgres` user. Plain JavaScript so that the benchmarks (plain Node) and the tests (test/global-setup.ts) share it.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's server binaries (`postgresql`), newest major version first; undefined when none is installed. */
export function postgresBinDir() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

/**
 * Starts a cluster; resolves `{ url, stop }` (`url`: the superuser's, to the `postgres` database). `durable`: keep
 * fsync and synchronous commits on, as a team server runs (the benchmarks, which measure acknowledged = committed);
 * off for the tests, which kill Maestro servers, never the database. Asynchronous throughout: vitest's main process
 * keeps scheduling test files while the cluster starts.
 */
export async function startCluster({ durable = true, prefix = 'maestro-pg-' } = {}) {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const root = process.getuid?.() === 0;
  const asOwner = (command, args) =>
    root ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args);
  if (root) {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const fast = durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c shared_buffers=32MB'];
  try {
    const init = ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-instructions', '-E', 'UTF8', '--locale=C'];
    await asOwner('initdb', durable ? init : [...init, '--no-sync']);
    const options = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c max_connections=400', ...fast].join(' ');
    await asOwner('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-s', 'start']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Could not start a throwaway PostgreSQL cluster: ${error.stderr?.toString() ?? error.message}`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      try {
        await asOwner('pg_ctl', ['-D', data, '-m', durable ? 'fast' : 'immediate', '-s', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
