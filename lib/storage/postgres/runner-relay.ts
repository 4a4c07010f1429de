// Runners across instances on PostgreSQL (§22.2): host names held by advisory locks, frames passed through a mailbox.
import type { ReservedSql, Sql } from 'postgres';
import type { Logger } from '../../log.js';
import type { RelayAnswer, RelayHandler, RunnerRelay } from '../engine.js';
import { INSTANCE_APP } from './connect.js';
import type { MailSeal } from './mail-seal.js';

/** One channel: a payload of an instance's ID says "mail for you"; `hosts` says "who holds which runner changed". */
const CHANNEL = 'maestro_runner';
/** How long an instance waits for a routed reply before forgetting it (the hub answers the caller sooner). */
const REPLY_WAIT_MS = 30_000;

type Mail =
  | { kind: 'frame'; from: string; call: number; host: string; message: unknown }
  | { kind: 'reply'; call: number; answer: RelayAnswer }
  | { kind: 'report'; host: string; message: unknown };

/**
 * A runner's name is held by a session advisory lock (key: a 64-bit hash of the schema, since several stores may share a database, and the name) on one connection this
 * instance reserves: a second instance's `pg_try_advisory_lock` fails while it is held, and PostgreSQL releases it
 * when the instance dies. The holder is recorded in `maestro_runners` with that connection's backend pid and start,
 * so that others count a row only while its connection lives. Frames for a runner held elsewhere are rows of
 * `maestro_runner_mail` plus a NOTIFY naming the receiver, which deletes its rows as it reads them, in order.
 */
export class PgRunnerRelay implements RunnerRelay {
  #lock: ReservedSql | undefined;
  #pid = 0;
  /** Names this instance holds. */
  readonly #held = new Set<string>();
  /** Names this instance is claiming: still whoever's they were until the claim succeeds. */
  readonly #claiming = new Set<string>();
  /** Names held by other instances: name → instance. */
  #elsewhere = new Map<string, string>();
  readonly #pending = new Map<number, { resolve: (a: RelayAnswer) => void; timer: NodeJS.Timeout }>();
  #nextCall = 1;
  #handler: RelayHandler | undefined;
  #drained: Promise<void> = Promise.resolve();
  /** A read of the mail is queued and has not started. */
  #drainQueued = false;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly instance: string,
    private readonly log: Logger,
    private readonly seal: MailSeal,
  ) {}

  async open() {
    this.#lock = await this.sql.reserve();
    const [row] = await this.#lock<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    this.#pid = row!.pid;
    const listening = await this.sql.listen(
      CHANNEL,
      (payload) => {
        if (payload === this.instance) this.drain();
        else if (payload === 'hosts') this.#refreshSoon();
      },
      () => {
        this.#refreshSoon();
        this.drain();
      },
    );
    this.#unlisten = () => listening.unlisten();
  }

  serve(handler: RelayHandler) {
    this.#handler = handler;
  }

  elsewhere = (name: string) => this.#elsewhere.has(name);

  async claim(name: string): Promise<boolean> {
    if (this.#held.has(name) || this.#claiming.has(name) || !this.#lock) return false;
    this.#claiming.add(name);
    try {
      const [row] = await this.#lock<
        { ok: boolean }[]
      >`SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '/' || ${name}, 0)) AS ok`;
      if (!row!.ok) return false;
      this.#held.add(name);
      try {
        await this.sql`INSERT INTO maestro_runners (name, instance, pid, since) VALUES (${name}, ${this.instance}, ${this.#pid}, now())
          ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, pid = excluded.pid, since = excluded.since`;
        this.#elsewhere.delete(name);
        await this.sql`SELECT pg_notify(${CHANNEL}, 'hosts')`;
      } catch (error) {
        // Not recorded, so not held: the lock goes too, and the runner may try again.
        await this.release(name).catch(() => {});
        throw error;
      }
      return true;
    } finally {
      this.#claiming.delete(name);
    }
  }

  async release(name: string) {
    if (!this.#held.delete(name)) return;
    await this.sql`DELETE FROM maestro_runners WHERE name = ${name} AND instance = ${this.instance}`;
    if (this.#lock) await this.#lock`SELECT pg_advisory_unlock(hashtextextended(current_schema() || '/' || ${name}, 0))`;
    await this.sql`SELECT pg_notify(${CHANNEL}, 'hosts')`;
  }

  /** `refresh` from a notification: a failure (the database gone for a moment) is logged, and the poll tries again. */
  #refreshSoon() {
    this.refresh().catch((error) =>
      this.log.warn(`Reading which instance holds which runner failed (retrying): ${(error as Error).message}`),
    );
  }

  /**
   * Re-reads who holds which runner (on a `hosts` notification, and polled: an instance that died sends none), and
   * which instances are alive: mail to one that died is deleted (nobody would ever read it), and the hub forgets it.
   */
  async refresh() {
    const asOf = Date.now();
    const [live] = await Promise.all([
      this.sql<{ instance: string }[]>`SELECT substr(application_name, ${INSTANCE_APP.length + 1}) AS instance
        FROM pg_stat_activity WHERE datname = current_database() AND starts_with(application_name, ${INSTANCE_APP})`,
      this.sql`DELETE FROM maestro_runner_mail m WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.application_name = ${INSTANCE_APP} || m.to_instance)`,
    ]);
    this.#handler?.alive(new Set(live.map((r) => r.instance)), asOf);
    const rows = await this.sql<{ name: string; instance: string }[]>`SELECT r.name, r.instance FROM maestro_runners r
      JOIN pg_stat_activity a ON a.pid = r.pid AND a.backend_start <= r.since WHERE r.instance <> ${this.instance}`;
    const before = this.#elsewhere;
    this.#elsewhere = new Map(rows.filter((r) => !this.#held.has(r.name)).map((r) => [r.name, r.instance]));
    for (const [name, instance] of this.#elsewhere) if (before.get(name) !== instance) this.#handler?.arrived(name);
  }

  async forward(host: string, message: unknown, reply: boolean): Promise<RelayAnswer | undefined> {
    const to = this.#elsewhere.get(host);
    if (!to) return { ok: false, error: `Host ${host} is offline`, code: 'HOST_OFFLINE', details: { host } };
    const call = reply ? this.#nextCall++ : 0;
    const answer = reply
      ? new Promise<RelayAnswer>((resolve) => {
          const timer = setTimeout(() => this.#pending.delete(call), REPLY_WAIT_MS).unref();
          this.#pending.set(call, { resolve, timer });
        })
      : undefined;
    await this.#mail(to, { kind: 'frame', from: this.instance, call, host, message });
    return answer;
  }

  report(instance: string, host: string, message: unknown) {
    return this.#mail(instance, { kind: 'report', host, message });
  }

  #mail(to: string, mail: Mail) {
    return this
      .sql`WITH m AS (INSERT INTO maestro_runner_mail (to_instance, body) VALUES (${to}, ${this.seal.seal(JSON.stringify(mail))}::text::json) RETURNING id)
      SELECT pg_notify(${CHANNEL}, ${to}) FROM m`.then(() => {});
  }

  /**
   * Reads (and deletes) this instance's mail, in the order it was sent; on a notification and polled. A read that
   * waits for its turn will see any mail sent meanwhile, so no second one queues behind it (against a silent database
   * each read waits for the query limit, and one queued per poll would pile up).
   */
  drain() {
    if (this.#drainQueued) return;
    this.#drainQueued = true;
    this.#drained = this.#drained.then(async () => {
      this.#drainQueued = false;
      if (!this.#lock) return;
      const rows = await this.sql<{ id: number; body: string }[]>`DELETE FROM maestro_runner_mail
        WHERE to_instance = ${this.instance} RETURNING id, body::text AS body`;
      rows.sort((a, b) => a.id - b.id);
      for (const row of rows) {
        let mail: Mail;
        try {
          mail = JSON.parse(this.seal.open(row.body)) as Mail;
        } catch {
          this.log.warn('Dropped runner mail this instance cannot open: do all instances have the same MAESTRO_TOKEN?');
          continue;
        }
        this.#receive(mail);
      }
    });
    this.#drained = this.#drained.catch((error) => this.log.warn(`Reading runner mail failed (retrying): ${(error as Error).message}`));
  }

  #receive(mail: Mail) {
    if (mail.kind === 'reply') {
      const pending = this.#pending.get(mail.call);
      if (!pending) return;
      this.#pending.delete(mail.call);
      clearTimeout(pending.timer);
      pending.resolve(mail.answer);
      return;
    }
    if (mail.kind === 'report') return this.#handler?.report(mail.host, mail.message);
    // Frames are handed to the hub in order, synchronously; only their replies are awaited.
    const answer = this.#handler?.frame(mail.host, mail.message, mail.call !== 0, mail.from);
    if (!mail.call || !answer) return;
    void answer
      .then((a) => this.#mail(mail.from, { kind: 'reply', call: mail.call, answer: a ?? { ok: false, error: 'No answer' } }))
      .catch((error) => this.log.warn(`Answering another instance failed: ${(error as Error).message}`));
  }

  async close() {
    const lock = this.#lock;
    this.#lock = undefined;
    for (const [, { timer }] of this.#pending) clearTimeout(timer);
    await this.#unlisten?.().catch(() => {});
    await this.#drained;
    // The lock connection goes back to the pool: its advisory locks must not go with it.
    if (lock) await lock`SELECT pg_advisory_unlock_all()`.catch(() => {});
    await this.sql`DELETE FROM maestro_runners WHERE instance = ${this.instance}`.catch(() => {});
    await this.sql`SELECT pg_notify(${CHANNEL}, 'hosts')`.catch(() => {});
    lock?.release();
  }
}
