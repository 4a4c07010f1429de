// PostgreSQL for tests: the run's throwaway cluster (global-setup.ts), a database per test file, a schema per store.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import postgres from 'postgres';
import { inject } from 'vitest';
import { onFileEnd } from './helpers.js';

const readyFile = inject('postgresReadyFile');

/** Whether this run has PostgreSQL; without it the PostgreSQL tests are skipped (say so where they are). */
export const hasPostgres = readyFile !== '';
if (!hasPostgres) console.warn('PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL tests are skipped');

let clusterUrl: Promise<string> | undefined;
/** The cluster's superuser URL, once global setup has started it. */
function cluster(): Promise<string> {
  clusterUrl ??= (async () => {
    // The cluster starts in the background of global setup; this file appears when it is up (or failed).
    for (let i = 0; !existsSync(readyFile) || !readFileSync(readyFile, 'utf8'); i++) {
      if (i > 1200) throw new Error('The throwaway PostgreSQL cluster did not start within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = readFileSync(readyFile, 'utf8');
    if (url.startsWith('error:')) throw new Error(url);
    return url;
  })();
  return clusterUrl;
}

let fileDatabase: Promise<{ url: string; sql: postgres.Sql }> | undefined;
/** This test file's own database, created on first use. */
function database() {
  fileDatabase ??= (async () => {
    const admin = postgres(await cluster(), { onnotice: () => {}, max: 1 });
    const name = `maestro_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
    await admin.unsafe(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = (await cluster()).replace(/\/postgres$/, `/${name}`);
    const sql = postgres(url, { onnotice: () => {}, max: 2 });
    onFileEnd(() => sql.end({ timeout: 1 }));
    return { url, sql };
  })();
  return fileDatabase;
}

let stores = 0;
/**
 * A new, empty store: a schema of this file's database, named in the URL's `options` (search_path), so that
 * servers and engines given the URL see only it. Several servers given the same URL share the store.
 */
export async function freshDatabaseUrl(): Promise<string> {
  const { url, sql } = await database();
  const schema = `store_${++stores}`;
  await sql.unsafe(`CREATE SCHEMA ${schema}`);
  return `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** A query client on the store of `url` (tests that look at what the engine wrote). */
export function openStore(url: string): postgres.Sql {
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  onFileEnd(() => sql.end({ timeout: 1 }));
  return sql;
}

/**
 * A TCP relay to the database that can go silent: bytes stop flowing both ways and nothing is closed, as when a
 * network drops packets. When it speaks again, the connections that went silent are reset and new ones go through.
 */
export async function silenceable(url: string) {
  const target = new URL(url);
  let silent = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (chunk) => void (silent || to.write(chunk)));
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayed = new URL(url);
  relayed.port = String((server.address() as { port: number }).port);
  return {
    url: relayed.href,
    silence: () => void (silent = true),
    speak: () => {
      silent = false;
      for (const socket of sockets) socket.destroy();
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
