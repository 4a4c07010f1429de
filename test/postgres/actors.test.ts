// The actors suite (§23) again, on the PostgreSQL engine.
import { describe } from 'vitest';
import { useDatabase } from '../helpers.js';
import { freshDatabaseUrl, hasPostgres } from '../postgres.js';

useDatabase(freshDatabaseUrl);
describe.skipIf(!hasPostgres)('on PostgreSQL', async () => {
  await import('../actors.test.js');
});
