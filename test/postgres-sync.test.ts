import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.js';
import { PostgresEngine } from '../lib/storage/postgres/engine.js';
import { freshDatabaseUrl, hasPostgres, silenceable } from './postgres.js';

/**
 * Several instances (§22.2): each API request first makes sure its instance has the commits answered before it
 * arrived, on any instance (the server tests show it through two servers); here, that this wait has a bound.
 */
const quiet = createLogger('error');

describe.skipIf(!hasPostgres)('PostgreSQL: a request sees the commits answered before it', () => {
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
});
