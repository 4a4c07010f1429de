// Applies the PostgreSQL schema's migrations at startup: in one transaction, under an advisory lock.
import type { Sql } from 'postgres';
import { MIGRATIONS } from './migrations/index.js';

/** The advisory lock key every instance takes to migrate (any constant: "maes" in ASCII). */
const MIGRATION_LOCK = 0x6d616573;

/**
 * Brings the schema to the newest version. Instances starting together take turns on the advisory lock (held until
 * the transaction ends), so the second finds the work done. A database newer than this server is refused.
 * Answers the versions applied now.
 */
export async function migrate(sql: Sql, log: (message: string) => void = () => {}): Promise<string[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS maestro_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const [row] = await tx<{ version: number | null }[]>`SELECT max(version) AS version FROM maestro_migrations`;
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(`The database schema is version ${current}, newer than this server knows (${MIGRATIONS.length}): upgrade the server`);
    }
    const applied: string[] = [];
    for (const [i, { name, sql: text }] of MIGRATIONS.entries()) {
      if (i + 1 <= current) continue;
      await tx.unsafe(text);
      await tx`INSERT INTO maestro_migrations (version, name) VALUES (${i + 1}, ${name})`;
      applied.push(name);
      log(`Database schema migrated to version ${i + 1} (${name})`);
    }
    return applied;
  });
}
