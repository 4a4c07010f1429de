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
import { fromRow, PgEventLog } from './event-log.js';
import { PLAIN, sealWith } from './mail-seal.js';
import { migrate } from './migrate.js';
import { PgRunnerRelay } from './runner-relay.js';
import { COMMIT_CHANNEL as CHANNEL, write } from './write.js';

export interface PostgresEngineOptions {
  url: string;
  log: Logger;
  /** How often to look for other instances' commits when no notification came (default 1 s). */
  pollMs?: number;
  /** Called when this instance can no longer follow the others (its memory would be wrong): the process must stop. */
  onFatal?: (error: unknown) => void;
  /** The secret all instances share (`MAESTRO_TOKEN`), which seals runner mail between them (mail-seal.ts). */
  mailSecret?: string;
  /** How long a query may wait and run before it fails (default 30 s; see connect.ts). */
  queryTimeoutMs?: number;
}

type Db = Sql | TransactionSql;

/** How long a request waits, at most, to see the commits other instances answered before it arrived. */
const SYNC_PATIENCE_MS = 1000;
/** How long a closing instance waits for its goodbyes (runner names released, listening stopped). */
const CLOSE_GRACE_MS = 2000;

/** A row of the feed query: a commit (part 0, `pos` its number, `body` its changes) or an event (part 1, `pos` its `seq`, `body` its line). */
interface FeedRow {
  part: number;
  pos: number;
  body: string;
  last_seq: number | null;
  type: string | null;
  project_id: string | null;
  sessions: string | null;
}

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
  /** The catch-up that waits for its turn and has not read the feed yet, if any. */
  #waiting: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  /** The backstop's reads of the period, while unanswered. */
  #polling: Promise<void> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;
  #unfinishedImport: string | undefined;
  /** Since when reading the database fails: until a read succeeds again, this instance may serve stale data. */
  #unreachableSince: number | undefined;
  readonly stats = { rebuilds: 0, remoteCommits: 0 };

  constructor(options: PostgresEngineOptions) {
    this.#url = options.url;
    this.#log = options.log;
    this.#pollMs = options.pollMs ?? 1000;
    this.#onFatal = options.onFatal ?? (() => {});
    this.#sql = connect(options.url, 4, options.queryTimeoutMs, this.instance);
    this.events = new PgEventLog(this.#sql, (message, error) => this.#log.error(message, error));
    this.runners = new PgRunnerRelay(this.#sql, this.instance, this.#log, options.mailSecret ? sealWith(options.mailSecret) : PLAIN);
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
      const [head] = await tx<
        { commit_no: number; last_seq: number; unfinished_import: string | null }[]
      >`SELECT commit_no, last_seq, unfinished_import FROM maestro_head`;
      const rows = await tx<
        { kind: Kind; id: string; body: string }[]
      >`SELECT kind, id, body::text AS body FROM maestro_entities ORDER BY ord`;
      return { rows, head: head! };
    });
    this.#applied = head.commit_no;
    this.#unfinishedImport = head.unfinished_import ?? undefined;
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
    // While the last period's reads are unanswered (a database gone silent holds each until the query limit), no more
    // are sent: a pile of them would take every connection of the pool, and commits would wait behind them for good.
    if (this.#polling) return;
    const warn = (error: Error) => !this.#closed && this.#log.warn(`Polling the database failed (retrying): ${error.message}`);
    this.#polling = Promise.all([this.events.refreshOldest().catch(warn), this.runners.refresh().catch(warn)]).then(() => {
      this.#polling = undefined;
    });
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
        const { commits: remote } = await this.#readFeed(tx, head!.commit_no);
        this.#applyRemote(remote, head!.commit_no, head!.last_seq);
        current = batch.rebuild(remote);
        this.stats.rebuilds++;
      }
      const published = current.prepare(head!.last_seq);
      if (!current.changes.length && !published.length) return published;
      no = head!.commit_no + 1;
      lastSeq = published.at(-1)?.seq ?? head!.last_seq;
      await write(tx, current, published, no, lastSeq, this.instance);
      return published;
    });
    if (no) {
      this.#applied = no;
      this.events.latestSeq = lastSeq;
    }
    return published;
  }

  /**
   * Resolves once this instance has applied every commit made before the call, on any instance: a request that waits
   * for it sees every change answered before it arrived, wherever it was answered (§22.2: behind a round-robin proxy, a
   * client's next request often reaches another instance). While the database does not answer, resolves at once: what
   * this instance serves may then be stale, as `/health` says.
   */
  sync(): Promise<void> {
    if (this.#unreachableSince !== undefined || this.#closed) return Promise.resolve();
    // One look at the head (no turn to wait for); only a head ahead of memory waits for a catch-up. A database that
    // goes silent holds a request a second at most, not for the query limit: it then goes ahead with what memory has.
    const current = this.#sql<{ commit_no: number }[]>`SELECT commit_no FROM maestro_head`.then(
      ([head]) => (head && head.commit_no > this.#applied ? this.#catchUp() : undefined),
      () => this.#catchUp(), // which records the outage, for /health
    );
    return Promise.race([current, new Promise<void>((resolve) => setTimeout(resolve, SYNC_PATIENCE_MS).unref())]);
  }

  /**
   * Reads and applies other instances' commits this instance has not applied yet (on a notification, polling, or a
   * request's `sync`). Callers that come while a catch-up waits for its turn share it: it has not read yet, so it
   * will see their commits too.
   */
  #catchUp(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#waiting ??= this.#serially(async () => {
      this.#waiting = undefined;
      if (this.#closed) return;
      // No look at the head first: the feed after the applied commit is every commit since (a commit is in the feed
      // once it is in the head, and pruning keeps the newest 10,000), so one round trip less on every notification.
      for (;;) {
        const { commits, lastSeq } = await this.#readFeed(this.#sql);
        if (!commits.length || this.#closed) return;
        this.#view!.applyRemote(commits);
        this.#applyRemote([], this.#applied + commits.length, lastSeq);
      }
    }).then(
      () => {
        if (this.#unreachableSince && !this.#closed) this.#log.info('The database answers again');
        this.#unreachableSince = undefined;
      },
      (error) => {
        if (error instanceof EngineFatalError) {
          this.#log.error('This instance can no longer follow the database: stopping', error);
          this.#onFatal(error);
        } else if (!this.#closed) {
          this.#unreachableSince ??= Date.now();
          this.#log.warn(`Reading other instances' commits failed (retrying): ${(error as Error).message}`);
        }
      },
    );
    return this.#waiting;
  }

  /** Said to anyone who asks `/health`: when, not why (the reason, which may name hosts, is in the log). */
  unavailable(): string | undefined {
    const since = this.#unreachableSince;
    return since === undefined ? undefined : `The database has not answered since ${new Date(since).toISOString()}; see the server log`;
  }

  /** Records commits as applied (inside a commit, the Db applies them itself as part of the rebuild). */
  #applyRemote(remote: readonly RemoteCommit[], upTo: number, lastSeq: number): void {
    this.stats.remoteCommits += remote.length;
    this.#applied = upTo;
    this.events.latestSeq = lastSeq;
  }

  /**
   * The commits after the applied one (up to `upTo` when given; at most 1,000 otherwise, the rest on the next call),
   * with their events, in order, and the last `seq` they reach. Throws when the feed no longer holds the next one.
   */
  async #readFeed(sql: Db, upTo?: number): Promise<{ commits: RemoteCommit[]; lastSeq: number }> {
    const from = this.#applied;
    if (upTo !== undefined && upTo <= from) return { commits: [], lastSeq: this.events.latestSeq };
    // The commits and their events in one round trip (and one snapshot): this is on the path of every event that
    // reaches this instance's clients from another instance.
    const rows = await sql<FeedRow[]>`WITH c AS (SELECT no, changes, last_seq FROM maestro_commits
        WHERE no > ${from} AND no <= ${upTo ?? from + 1000})
      SELECT 0 AS part, no AS pos, changes::text AS body, last_seq, NULL AS type, NULL AS project_id, NULL AS sessions FROM c
      UNION ALL
      SELECT 1, seq, line, NULL, type, project_id, sessions::text FROM maestro_events
        WHERE seq > ${this.events.latestSeq} AND seq <= (SELECT max(last_seq) FROM c)
      ORDER BY part, pos`;
    const feed = rows.filter((r) => r.part === 0);
    if (!feed.length && upTo === undefined) return { commits: [], lastSeq: this.events.latestSeq };
    if (feed[0]?.pos !== from + 1 || feed.at(-1)!.pos !== from + feed.length || (upTo !== undefined && feed.length !== upTo - from)) {
      throw new EngineFatalError(`Commits after ${from} are no longer in the commit feed: restart this instance`);
    }
    const events = rows
      .filter((r) => r.part === 1)
      .map(
        (r): Published => ({
          ...fromRow({ seq: r.pos, type: r.type!, project_id: r.project_id, sessions: r.sessions, line: r.body }),
          text: r.body,
        }),
      );
    let at = 0;
    const commits = feed.map(({ body, last_seq }) => {
      const own: Published[] = [];
      while (at < events.length && events[at]!.seq <= last_seq!) own.push(events[at++]!);
      const parsed = JSON.parse(body) as [Kind, string, any][];
      return { changes: parsed.map(([kind, id, entity]) => ({ kind, id, entity })), events: own };
    });
    return { commits, lastSeq: feed.at(-1)!.last_seq! };
  }

  async checkpoint(): Promise<void> {
    await this.#serially(async () => {});
  }

  get unfinishedImport(): string | undefined {
    return this.#unfinishedImport;
  }

  async markImport(note: string | undefined): Promise<void> {
    await this.#sql`UPDATE maestro_head SET unfinished_import = ${note ?? null}`;
    this.#unfinishedImport = note;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    await this.#turn;
    // Saying goodbye (runner names, the listening connection) is a courtesy: after an outage it may get no answer, and
    // a stop must not wait on it (PostgreSQL frees an instance's locks and listeners when its connections end).
    await Promise.race([
      Promise.all([this.runners.close().catch(() => {}), this.#unlisten?.().catch(() => {})]),
      new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref()),
    ]);
    await this.#sql.end({ timeout: 2 });
  }
}
