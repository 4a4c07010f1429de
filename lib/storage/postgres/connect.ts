// Connecting to PostgreSQL: the client with its options, and a description of the database that never holds a password.
import postgres, { type Sql } from 'postgres';
import { describeDatabase } from '../../config.js';

/**
 * A client pool: a few connections (commits are one at a time per instance), int8 read as numbers. No query waits
 * and runs longer than `queryTimeoutMs`: a database or network that goes silent (no answer, no reset) would otherwise
 * hold a commit, and every write queued behind it, for as long as TCP takes to notice, many minutes.
 */
/**
 * The `application_name` of a server instance's connections, before its ID: while any of them is open (its listening
 * connection always is), pg_stat_activity says the instance is alive.
 */
export const INSTANCE_APP = 'maestro-server ';

export function connect(url: string, max = 4, queryTimeoutMs = 30_000, instance?: string): Sql {
  return postgres(url, {
    max,
    connect_timeout: 10,
    query_timeout: queryTimeoutMs / 1000,
    // The cancel of a query out of time goes unanswered too when the database is silent: give up on it as soon.
    cancel_timeout: Math.min(5, queryTimeoutMs / 1000),
    // Notices (CREATE TABLE IF NOT EXISTS …) are not news.
    onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
    connection: { application_name: instance ? INSTANCE_APP + instance : 'maestro-server' },
    // Seconds before the next try after a connection attempt failed: doubling from 0.1, at most 2. The library's own
    // grows to 20 s, so after an outage of a few seconds the listening connection (other instances' commits heard at
    // once) came back up to 20 s after the database did, with only the 1 s poll meanwhile.
    backoff: (retries: number) => Math.min(0.1 * 2 ** retries, 2),
  }) as unknown as Sql;
}

/** Why a connection failed, in words that name the host and never the password. */
export function connectionError(url: string, error: unknown): Error {
  const reason = (error as { code?: string; message?: string }).message ?? String(error);
  const safe = reason.replaceAll(url, describeDatabase(url));
  return new Error(`Cannot use PostgreSQL at ${describeDatabase(url)}: ${safe}`, { cause: error });
}
