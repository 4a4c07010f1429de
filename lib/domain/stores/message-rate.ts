// The send rate limit of §16.2 rule 6, counted from committed messages so that it holds across instances (§22.2).
import { ApiError } from '../../errors.js';
import type { Tx } from '../../storage/db.js';
import type { Message } from '../types.js';

const MINUTE = 60_000;

/**
 * Accepted sends of each session within the last minute. Filled from committed messages as the Db applies them,
 * this instance's and every other instance's alike: on a shared engine a batch built before another instance's
 * commit is rebuilt on it, so a send checked here sees every send committed before its own, wherever it was made.
 * A deleted message still counts: it was accepted.
 */
export class MessageRate {
  /** Sender → (message ID → createdAt) of committed sends. */
  readonly #sent = new Map<string, Map<string, number>>();
  /** Sends being built and not committed yet (message ID → sender): one counts while its transaction can see it. */
  readonly #building = new Map<string, string>();

  /** `limit` messages per rolling minute; 0 = unlimited. */
  constructor(private readonly limit: number) {}

  /** A committed message (here or on another instance) counts against its sender. */
  count(m: Message): void {
    if (m.from === 'user' || this.limit === 0) return;
    let sent = this.#sent.get(m.from);
    if (!sent) this.#sent.set(m.from, (sent = new Map()));
    sent.set(m.id, m.createdAt);
  }

  /** A send built in the current batch: it counts for later sends of the batch until `settled`. */
  building(m: Message): void {
    if (m.from !== 'user' && this.limit !== 0) this.#building.set(m.id, m.from);
  }

  settled(ids: readonly string[]): void {
    for (const id of ids) this.#building.delete(id);
  }

  /**
   * 429 `RATE_LIMITED` when the session has used its rate: its committed sends of the last minute, and those of the
   * batch being built that this transaction sees (a failed or rebuilt batch's are not seen, so they never count).
   */
  check(tx: Tx, sessionId: string): void {
    if (this.limit === 0) return;
    const since = tx.now - MINUTE;
    const sent = this.#sent.get(sessionId);
    const recent: number[] = [];
    for (const [id, at] of sent ?? []) {
      if (at > since) recent.push(at);
      else sent!.delete(id);
    }
    for (const [id, from] of this.#building) {
      const m = from === sessionId && !sent?.has(id) ? tx.get('messages', id) : undefined;
      if (m && m.createdAt > since) recent.push(m.createdAt);
    }
    if (recent.length < this.limit) return;
    recent.sort((a, b) => a - b);
    const retryAfterMs = Math.max(1, recent[recent.length - this.limit]! + MINUTE - tx.now);
    throw new ApiError(429, 'RATE_LIMITED', `Session ${sessionId} may send at most ${this.limit} messages per minute`, {
      sessionId,
      limit: this.limit,
      retryAfterMs,
    });
  }

  /** An ended session sends nothing more. */
  forget(sessionId: string): void {
    this.#sent.delete(sessionId);
  }

  /** Sessions with a window held in memory. */
  get size(): number {
    return this.#sent.size;
  }
}
