// The people suite (§23: tokens, roles, actors) again, on the PostgreSQL engine.
import { describe } from 'vitest';
import { useDatabase } from '../helpers.js';
import { freshDatabaseUrl, hasPostgres } from '../postgres.js';

useDatabase(freshDatabaseUrl);
describe.skipIf(!hasPostgres)('on PostgreSQL', async () => {
  await import('../people.test.js');
});
