import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.js';
import { PostgresEngine } from '../lib/storage/postgres/engine.js';
import { engineContract } from './engine-contract.js';
import { freshDatabaseUrl, hasPostgres, openStore } from './postgres.js';

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
