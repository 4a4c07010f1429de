// The task graph, claims and claim-next (§18) again, on the PostgreSQL engine (tests that read DATA_DIR's files are the file engine's only).
import { describe } from 'vitest';
import { useDatabase } from '../helpers.js';
import { freshDatabaseUrl, hasPostgres } from '../postgres.js';

useDatabase(freshDatabaseUrl);
describe.skipIf(!hasPostgres)('on PostgreSQL', async () => {
  await import('../graph.test.js');
});
