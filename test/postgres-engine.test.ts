import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.js';
import { PostgresEngine } from '../lib/storage/postgres/engine.js';
import { engineContract } from './engine-contract.js';
import { freshDatabaseUrl, hasPostgres, openStore } from './postgres.js';

/** The PostgreSQL engine (§22.2) against the shared storage engine contract, and what it keeps in the database. */
const quiet = createLogger('error');

/**
 * A TCP relay to the database that can go silent: bytes stop flowing both ways and nothing is closed, as when a
 * network drops packets. When it speaks again, the connections that went silent are reset and new ones go through.
 */
async function silenceable(url: string) {
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

describe.skipIf(!hasPostgres)('PostgreSQL engine', () => {
  engineContract('postgres', {
    fresh: freshDatabaseUrl,
    engine: (url) => new PostgresEngine({ url, log: quiet }),
  });

  it('keeps an entity byte for byte (key order included) ', async () => {
    const url = await freshDatabaseUrl();
    const { Db } = await import('../lib/storage/db.js');
    const { EventHub } = await import('../lib/domain/events.js');
    const open = () => Db.open({ engine: new PostgresEngine({ url, log: quiet }), hub: new EventHub(quiet), log: quiet });
    const odd = { updatedAt: 2, name: 'Ünïcode "quoted"\n', id: 'proj_odd', nested: { z: 1, a: [3, 1.5, null] }, createdAt: 1 };
    const first = await open();
    await first.mutate((tx) => tx.put('projects', odd as any));
    await first.close();
    const second = await open();
    expect(JSON.stringify(second.get('projects', 'proj_odd'))).toBe(JSON.stringify(odd));
    await second.close();
  });

  it('a database that goes silent fails writes after the query timeout and marks the instance unavailable, then recovers', async () => {
    const relay = await silenceable(await freshDatabaseUrl());
    const { Db } = await import('../lib/storage/db.js');
    const { EventHub } = await import('../lib/domain/events.js');
    const engine = new PostgresEngine({ url: relay.url, log: quiet, pollMs: 100, queryTimeoutMs: 400 });
    const db = await Db.open({ engine, hub: new EventHub(quiet), log: quiet });
    const rename = (name: string) =>
      db.mutate((tx) => tx.put('projects', { id: 'proj_s', name, workingDir: '', description: '', createdAt: 1, updatedAt: 1 }));
    await rename('before');
    relay.silence();
    // Without a limit this write would wait for TCP to give up on the connection: many minutes.
    await expect(rename('during')).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    await expect.poll(() => engine.unavailable(), { timeout: 10_000 }).toMatch(/^The database has not answered since /);
    relay.speak();
    await expect.poll(() => engine.unavailable(), { timeout: 10_000 }).toBeUndefined();
    await rename('after');
    expect(db.get('projects', 'proj_s')!.name).toBe('after');
    await db.close();
    relay.close();
  });

  it("a request's wait to see other instances' commits is bounded while the database is silent", async () => {
    const relay = await silenceable(await freshDatabaseUrl());
    const { Db } = await import('../lib/storage/db.js');
    const { EventHub } = await import('../lib/domain/events.js');
    const engine = new PostgresEngine({ url: relay.url, log: quiet, pollMs: 100, queryTimeoutMs: 60_000 });
    const db = await Db.open({ engine, hub: new EventHub(quiet), log: quiet });
    await engine.sync(); // the database answers: nothing newer than memory
    relay.silence();
    const later = new Promise((resolve) => setTimeout(resolve, 5000, 'still waiting'));
    expect(await Promise.race([engine.sync().then(() => 'went ahead'), later])).toBe('went ahead');
    relay.speak();
    await db.close();
    relay.close();
  });

  it('migrates an empty database once, recording the version; a second open finds nothing to do', async () => {
    const url = await freshDatabaseUrl();
    const sql = openStore(url);
    const { Db } = await import('../lib/storage/db.js');
    const { EventHub } = await import('../lib/domain/events.js');
    const first = await Db.open({ engine: new PostgresEngine({ url, log: quiet }), hub: new EventHub(quiet), log: quiet });
    await first.close();
    const second = await Db.open({ engine: new PostgresEngine({ url, log: quiet }), hub: new EventHub(quiet), log: quiet });
    await second.close();
    const { MIGRATIONS } = await import('../lib/storage/postgres/migrations/index.js');
    // Every migration recorded once, in order, however many there are.
    expect(await sql`SELECT version, name FROM maestro_migrations ORDER BY version`).toEqual(
      MIGRATIONS.map(({ name }, i) => ({ version: i + 1, name })),
    );
    expect(MIGRATIONS[0]!.name).toBe('001-initial');
  });
});
