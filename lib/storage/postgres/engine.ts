// The PostgreSQL engine (contract §22.2): entities, events and a commit feed in one database shared by instances.
import { randomUUID } from 'node:crypto';
import type { Sql, TransactionSql } from 'postgres';
import type { Published } from '../../domain/events.js';
import type { Logger } from '../../log.js';
import {
  type CommitBatch,
  EngineFatalError,
  type EntityView,
  type Kind,
  type LoadedEntity,
  type RemoteCommit,
  type StorageEngine,
} from '../engine.js';
import { connect, connectionError } from './connect.js';
import { fromRow, insertEvents, PgEventLog } from './event-log.js';
import { migrate } from './migrate.js';
import { PgRunnerRelay } from './runner-relay.js';

export interface PostgresEngineOptions {
  url: string;
  log: Logger;
  /** How often to look for other instances' commits when no notification came (default 1 s). */
  pollMs?: number;
  /** Called when this instance can no longer follow the others (its memory would be wrong): the process must stop. */
  onFatal?: (error: unknown) => void;
}

/** The channel that says "commit N is in" (its number only: payloads are limited to 8,000 bytes). */
const CHANNEL = 'maestro_commit';

type Db = Sql | TransactionSql;

/**
 * Commit path, one transaction: lock the head row (`SELECT … FOR UPDATE`), the one lock every commit of every
 * instance takes, so commits are serial and numbered in commit order; if other instances committed since this batch
 * was built, apply their commits and rebuild the batch on them (under the lock: nothing can slip in between); write
 * the entities, the events (`seq` from the head row), the commit's changes to the feed, the head, and a NOTIFY.
 * Other instances hear the NOTIFY (or poll), read the feed after the last commit they applied, apply it in memory
 * and send its events to their clients. A reader can never see `seq` N+1 without N: N's transaction committed
 * before N+1's could take the lock.
 */
export class PostgresEngine implements StorageEngine {
  readonly name = 'postgres';
  readonly events: PgEventLog;
  readonly runners: PgRunnerRelay;
  /** This instance's name in the commit feed (diagnostics). */
  readonly instance = randomUUID();
  readonly #sql: Sql;
  readonly #url: string;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #onFatal: (error: unknown) => void;
  #view: EntityView | undefined;
  /** The newest commit whose changes this instance's memory holds. */
  #applied = 0;
  #turn: Promise<unknown> = Promise.resolve();
  #poll: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;
  readonly stats = { rebuilds: 0, remoteCommits: 0 };

  constructor(options: PostgresEngineOptions) {
    this.#url = options.url;
    this.#log = options.log;
    this.#pollMs = options.pollMs ?? 1000;
    this.#onFatal = options.onFatal ?? (() => {});
    this.#sql = connect(options.url);
    this.events = new PgEventLog(this.#sql, (message, error) => this.#log.error(message, error));
    this.runners = new PgRunnerRelay(this.#sql, this.instance, this.#log);
  }

  async open(view: EntityView): Promise<LoadedEntity[]> {
    this.#view = view;
    try {
      await migrate(this.#sql, (message) => this.#log.info(message));
    } catch (error) {
      await this.#sql.end({ timeout: 1 }).catch(() => {});
      throw connectionError(this.#url, error);
    }
    const { rows, head } = await this.#sql.begin('isolation level repeatable read', async (tx) => {
      const [head] = await tx<{ commit_no: number; last_seq: number }[]>`SELECT commit_no, last_seq FROM maestro_head`;
      const rows = await tx<
        { kind: Kind; id: string; body: string }[]
      >`SELECT kind, id, body::text AS body FROM maestro_entities ORDER BY ord`;
      return { rows, head: head! };
    });
    this.#applied = head.commit_no;
    this.events.latestSeq = head.last_seq;
    await this.events.refreshOldest();
    this.#log.info(`Loaded ${rows.length} entities from PostgreSQL (commit ${head.commit_no}, seq ${head.last_seq})`);
    const listening = await this.#sql.listen(
      CHANNEL,
      () => void this.#catchUp(),
      () => void this.#catchUp(),
    );
    this.#unlisten = () => listening.unlisten();
    await this.runners.open();
    await this.runners.refresh();
    // The backstop for a missed notification (a dropped listening connection) costs a few small reads per period;
    // it also notices events another instance pruned (a replay from before them gets `resync`) and runners whose
    // instance died (their advisory locks went with it).
    this.#poll = setInterval(() => this.#backstop(), this.#pollMs).unref();
    return rows.map(({ kind, id, body }) => ({ kind, id, entity: JSON.parse(body), migrated: false }));
  }

  #backstop() {
    void this.#catchUp();
    this.runners.drain();
    const warn = (error: Error) => !this.#closed && this.#log.warn(`Polling the database failed (retrying): ${error.message}`);
    this.events.refreshOldest().catch(warn);
    this.runners.refresh().catch(warn);
  }

  /** Commits and catch-ups take turns, so the applied commit number only moves forward, in order. */
  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work);
    this.#turn = run.catch(() => {});
    return run;
  }

  commit(batch: CommitBatch): Promise<Published[]> {
    // The batch was just built on the memory as of this commit number (builds are synchronous).
    const builtAt = this.#applied;
    return this.#serially(() => this.#commit(batch, builtAt));
  }

  async #commit(batch: CommitBatch, builtAt: number): Promise<Published[]> {
    let lastSeq = 0;
    let no = 0;
    const published = await this.#sql.begin(async (tx) => {
      const [head] = await tx<{ commit_no: number; last_seq: number }[]>`SELECT commit_no, last_seq FROM maestro_head FOR UPDATE`;
      let current = batch;
      if (head!.commit_no !== builtAt) {
        const remote = await this.#readFeed(tx, head!.commit_no);
        this.#applyRemote(remote, head!.commit_no, head!.last_seq);
        current = batch.rebuild(remote);
        this.stats.rebuilds++;
      }
      const published = current.prepare(head!.last_seq);
      if (!current.changes.length && !published.length) return published;
      no = head!.commit_no + 1;
      lastSeq = published.at(-1)?.seq ?? head!.last_seq;
      const puts = current.changes.filter((c) => c.entity);
      const removals = current.changes.filter((c) => !c.entity);
      if (puts.length) {
        const records = `[${puts.map((c) => `{"kind":${JSON.stringify(c.kind)},"id":${JSON.stringify(c.id)},"body":${JSON.stringify(c.entity)}}`).join(',')}]`;
        await tx`INSERT INTO maestro_entities (kind, id, body)
          SELECT kind, id, body FROM json_to_recordset(${records}::text::json) AS x(kind text, id text, body json)
          ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body`;
      }
      if (removals.length) {
        const keys = JSON.stringify(removals.map((c) => ({ kind: c.kind, id: c.id })));
        await tx`DELETE FROM maestro_entities e USING json_to_recordset(${keys}::text::json) AS x(kind text, id text)
          WHERE e.kind = x.kind AND e.id = x.id`;
      }
      await insertEvents(tx as unknown as Sql, published);
      const changes = JSON.stringify(current.changes.map((c) => [c.kind, c.id, c.entity]));
      await tx`INSERT INTO maestro_commits (no, instance, changes, last_seq) VALUES (${no}, ${this.instance}, ${changes}::text::json, ${lastSeq})`;
      await tx`UPDATE maestro_head SET commit_no = ${no}, last_seq = ${lastSeq}`;
      await tx`SELECT pg_notify(${CHANNEL}, ${String(no)})`;
      return published;
    });
    if (no) {
      this.#applied = no;
      this.events.latestSeq = lastSeq;
    }
    return published;
  }

  /** Reads and applies other instances' commits this instance has not applied yet (on a notification, or polling). */
  #catchUp(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#serially(async () => {
      if (this.#closed) return;
      const [head] = await this.#sql<{ commit_no: number; last_seq: number }[]>`SELECT commit_no, last_seq FROM maestro_head`;
      if (head!.commit_no <= this.#applied) return;
      const remote = await this.#readFeed(this.#sql, head!.commit_no);
      this.#view!.applyRemote(remote);
      this.#applyRemote([], head!.commit_no, head!.last_seq);
    }).catch((error) => {
      if (error instanceof EngineFatalError) {
        this.#log.error('This instance can no longer follow the database: stopping', error);
        this.#onFatal(error);
      } else if (!this.#closed) this.#log.warn(`Reading other instances' commits failed (retrying): ${(error as Error).message}`);
    });
  }

  /** Records commits as applied (inside a commit, the Db applies them itself as part of the rebuild). */
  #applyRemote(remote: readonly RemoteCommit[], upTo: number, lastSeq: number): void {
    this.stats.remoteCommits += remote.length;
    this.#applied = upTo;
    this.events.latestSeq = lastSeq;
  }

  /** The commits after the applied one up to `upTo`, with their events, in order. */
  async #readFeed(sql: Db, upTo: number): Promise<RemoteCommit[]> {
    if (upTo <= this.#applied) return [];
    const commits = await sql<{ no: number; changes: string; last_seq: number }[]>`SELECT no, changes::text AS changes, last_seq
      FROM maestro_commits WHERE no > ${this.#applied} AND no <= ${upTo} ORDER BY no`;
    if (commits.length !== upTo - this.#applied || commits[0]?.no !== this.#applied + 1) {
      throw new EngineFatalError(`Commits ${this.#applied + 1}–${upTo} are no longer in the commit feed: restart this instance`);
    }
    const rows = await sql<Parameters<typeof fromRow>[0][]>`SELECT seq, type, project_id, sessions::text AS sessions, line
      FROM maestro_events WHERE seq > ${this.events.latestSeq} AND seq <= ${commits.at(-1)!.last_seq} ORDER BY seq`;
    const events = rows.map((row): Published => ({ ...fromRow(row), text: row.line }));
    let at = 0;
    return commits.map(({ changes, last_seq }) => {
      const own: Published[] = [];
      while (at < events.length && events[at]!.seq <= last_seq) own.push(events[at++]!);
      const parsed = JSON.parse(changes) as [Kind, string, any][];
      return { changes: parsed.map(([kind, id, entity]) => ({ kind, id, entity })), events: own };
    });
  }

  async checkpoint(): Promise<void> {
    await this.#serially(async () => {});
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    await this.#turn;
    await this.runners.close().catch(() => {});
    await this.#unlisten?.().catch(() => {});
    await this.#sql.end({ timeout: 2 });
  }
}
