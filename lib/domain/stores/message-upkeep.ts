// Messages' upkeep (contract §16.4): expiry, failure when the receiver ends, retention, and the timers that run them.
import type { Logger } from '../../log.js';
import type { Db, Tx } from '../../storage/db.js';
import { FINAL_SESSION_STATUSES, type Message, type Session } from '../types.js';
import { LIVE, type MessageIndex } from './message-index.js';

export const FAIL_REASON = 'receiver ended before delivery';
const DAY = 86_400_000;
const SWEEP_EVERY_MS = 250;
const RETAIN_EVERY_MS = 3_600_000;

const ended = (s: Session) => FINAL_SESSION_STATUSES.includes(s.status);

export class MessageUpkeep {
  #sweeping: Promise<number> | undefined;

  constructor(
    private readonly db: Db,
    private readonly index: MessageIndex,
    /** A stored message as served (delivery marks applied). */
    private readonly served: (m: Message | undefined, tx: Pick<Tx, 'get'>) => Message | undefined,
    private readonly retentionDays: number,
    private readonly log: Logger,
  ) {}

  /** Repairs what a crash between a session's end and its follow-up left, applies retention, starts the timers. */
  async start(): Promise<() => void> {
    for (const receiverId of this.index.byReceiver.keys()) {
      const session = this.db.get('sessions', receiverId);
      if (!session) await this.#receiverEnded(receiverId, true);
      else if (ended(session)) await this.#receiverEnded(receiverId, false);
    }
    await this.retain();
    const sweep = setInterval(() => void this.sweep().catch((e) => this.log.error('message expiry failed', e)), SWEEP_EVERY_MS);
    const retain = setInterval(() => void this.retain().catch((e) => this.log.error('message retention failed', e)), RETAIN_EVERY_MS);
    sweep.unref();
    retain.unref();
    return () => {
      clearInterval(sweep);
      clearInterval(retain);
    };
  }

  /** Expires every message not read by its deadline (§16.4); the timer runs it 4 times a second. Returns how many. */
  sweep(): Promise<number> {
    const now = this.db.now();
    if (![...this.index.expiring.values()].some((at) => at <= now)) return Promise.resolve(0);
    this.#sweeping ??= this.db
      .mutate((tx) => {
        let count = 0;
        for (const [id, at] of this.index.expiring) {
          const m = this.served(tx.get('messages', id), tx);
          if (at > tx.now || !m || !LIVE.has(m.status)) continue;
          const expired: Message = { ...m, status: 'expired' };
          tx.put('messages', expired);
          tx.emit('message:expired', expired);
          count++;
        }
        return count;
      })
      .finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Deletes messages older than the retention period, without events (§16.4). Returns how many. */
  async retain(): Promise<number> {
    const cutoff = this.db.now() - this.retentionDays * DAY;
    const old = [...this.db.all('messages')].filter((m) => m.createdAt <= cutoff).map((m) => m.id);
    if (!old.length) return 0;
    // Checked again in the transaction: another instance's retention may have removed them first (§22.2: once).
    return this.db.mutate((tx) => {
      const gone = old.filter((id) => tx.get('messages', id));
      for (const id of gone) tx.remove('messages', id);
      return gone.length;
    });
  }

  /** A receiver that ends or is deleted: its pending messages fail (follow-up mutation, §16.4). */
  sessionChanged(before: Session | undefined, after: Session | null) {
    const isEnd = after === null ? before !== undefined : ended(after) && !(before && ended(before));
    if (!isEnd) return;
    this.#receiverEnded((after ?? before)!.id, after === null).catch((e) => this.log.error('failing messages of an ended session', e));
  }

  async #receiverEnded(sessionId: string, deleted: boolean): Promise<void> {
    // Most sessions end with an empty inbox: no mutation at all (a runner's reconnect may end hundreds at once).
    if (this.index.byReceiver.get(sessionId).length === 0) return void (deleted && this.#forgetMarks(sessionId));
    await this.db.mutate((tx) => {
      for (const id of this.index.byReceiver.get(sessionId)) {
        const m = this.served(tx.get('messages', id), tx);
        if (m?.status !== 'pending') continue;
        const failed: Message = { ...m, status: 'failed', failReason: FAIL_REASON };
        tx.put('messages', failed);
        tx.emit('message:failed', failed);
      }
    });
    if (!deleted) return;
    // The failures are on disk (and announced) first; then the deleted session's inbox goes.
    await this.db.mutate((tx) => {
      if (tx.get('sessions', sessionId)) return; // re-created with the same ID meanwhile: keep its inbox
      if (tx.get('deliveries', sessionId)) tx.remove('deliveries', sessionId);
      for (const id of this.index.byReceiver.get(sessionId)) {
        const m = tx.get('messages', id);
        if (!m) continue;
        tx.remove('messages', id);
        tx.emit('message:deleted', { id, from: m.from, to: m.to });
      }
    });
  }

  /** A deleted session's delivery marks, when its inbox is already empty. */
  async #forgetMarks(sessionId: string): Promise<void> {
    if (!this.db.get('deliveries', sessionId)) return;
    await this.db.mutate((tx) => {
      if (!tx.get('sessions', sessionId) && tx.get('deliveries', sessionId)) tx.remove('deliveries', sessionId);
    });
  }
}
