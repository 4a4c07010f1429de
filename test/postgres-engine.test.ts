import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.js';
import { PostgresEngine } from '../lib/storage/postgres/engine.js';
import { engineContract } from './engine-contract.js';
import { freshDatabaseUrl, hasPostgres, openStore, silenceable } from './postgres.js';

/** The PostgreSQL engine (§22.2) against the shared storage engine contract, and what it keeps in the database. */
const quiet = createLogger('error');

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

  // Each step is bounded (the polls, the 10 s connect timeout of a connection opened while silent); on a loaded machine
  // the steps together may pass the default 20 s.
  it('a database that goes silent fails writes after the query timeout and marks the instance unavailable, then recovers', {
    timeout: 60_000,
  }, async () => {
    const relay = await silenceable(await freshDatabaseUrl());
    const { Db } = await import('../lib/storage/db.js');
    const { EventHub } = await import('../lib/domain/events.js');
    const engine = new PostgresEngine({ url: relay.url, log: quiet, pollMs: 100, queryTimeoutMs: 400 });
    const db = await Db.open({ engine, hub: new EventHub(quiet), log: quiet });
    // Every step is bounded on its own, so that a step that does not end is named (not only the test's time limit).
    const step = <T>(what: string, promise: Promise<T>, ms = 15_000) =>
      Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no end after ${ms} ms`)), ms))]);
    const rename = (name: string) =>
      step(
        `the write "${name}"`,
        db.mutate((tx) => tx.put('projects', { id: 'proj_s', name, workingDir: '', description: '', createdAt: 1, updatedAt: 1 })),
      );
    await rename('before');
    relay.silence();
    // Without a limit this write would wait for TCP to give up on the connection: many minutes.
    await expect(rename('during')).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    await expect.poll(() => engine.unavailable(), { timeout: 10_000 }).toMatch(/^The database has not answered since /);
    relay.speak();
    await expect.poll(() => engine.unavailable(), { timeout: 10_000 }).toBeUndefined();
    await rename('after');
    expect(db.get('projects', 'proj_s')!.name).toBe('after');
    await step('closing', db.close());
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

describe.skipIf(!hasPostgres)('PostgreSQL runner names', () => {
  it('a claim refused for a name held elsewhere leaves that name online elsewhere, whatever re-read of the holders meets it', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = [new PostgresEngine({ url, log: quiet }), new PostgresEngine({ url, log: quiet })];
    await a.open({} as any);
    await b.open({} as any);
    expect(await a.runners.claim('alpha')).toBe(true);
    await b.runners.refresh();
    expect(b.runners.elsewhere('alpha')).toBe(true);
    // A second runner of the same name tries this instance while its view of the holders is re-read (the poll).
    for (let i = 0; i < 20; i++) {
      const [claimed] = await Promise.all([b.runners.claim('alpha'), b.runners.refresh()]);
      expect([i, claimed, b.runners.elsewhere('alpha')]).toEqual([i, false, true]);
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('an instance hears once of each runner that connects to another (its spawns waiting for that runner go there)', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = [new PostgresEngine({ url, log: quiet }), new PostgresEngine({ url, log: quiet })];
    await a.open({} as any);
    await b.open({} as any);
    const arrived: string[] = [];
    b.runners.serve({ frame: async () => undefined, report: () => {}, arrived: (host) => arrived.push(host), alive: () => {} });
    expect(await a.runners.claim('alpha')).toBe(true);
    await b.runners.refresh();
    await b.runners.refresh();
    expect(arrived).toEqual(['alpha']);
    // It leaves, and comes back: it has arrived again.
    await a.runners.release('alpha');
    await b.runners.refresh();
    expect(await a.runners.claim('alpha')).toBe(true);
    await b.runners.refresh();
    expect(arrived).toEqual(['alpha', 'alpha']);
    await Promise.all([a.close(), b.close()]);
  });

  it('mail for an instance that died is deleted, and the others hear it is gone', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = [new PostgresEngine({ url, log: quiet }), new PostgresEngine({ url, log: quiet })];
    await a.open({} as any);
    await b.open({} as any);
    let alive: string[] = [];
    a.runners.serve({ frame: async () => undefined, report: () => {}, arrived: () => {}, alive: (set) => void (alive = [...set]) });
    await a.runners.refresh();
    // (Other stores' instances in this database may be listed too: they are alive as well.)
    expect(alive).toEqual(expect.arrayContaining([a.instance, b.instance]));
    await b.close();
    await a.runners.report(b.instance, 'alpha', { type: 'output' });
    const db = openStore(url);
    expect((await db`SELECT count(*)::int AS n FROM maestro_runner_mail`)[0]!.n).toBe(1);
    await a.runners.refresh();
    expect(alive).toContain(a.instance);
    expect(alive).not.toContain(b.instance);
    expect((await db`SELECT count(*)::int AS n FROM maestro_runner_mail`)[0]!.n).toBe(0);
    await a.close();
  });
});
