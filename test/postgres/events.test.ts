// The events suite (§4, §17: live fan-out, replay, GET /api/events) again, on the PostgreSQL engine.
import { describe } from 'vitest';
import { useDatabase } from '../helpers.js';
import { freshDatabaseUrl, hasPostgres } from '../postgres.js';

useDatabase(freshDatabaseUrl);
describe.skipIf(!hasPostgres)('on PostgreSQL', async () => {
  await import('../events.test.js');
});
