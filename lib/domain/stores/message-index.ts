// In-memory indexes of the messages (by receiver, by sender, deadlines to expire), kept up as the Db applies changes.
import type { Message, MessageStatus } from '../types.js';

/** Statuses a message can still leave: it may be delivered, read, expire or fail. */
export const LIVE = new Set<MessageStatus>(['pending', 'delivered']);

export const byAge = (a: Message, b: Message) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

class IdSets {
  readonly #map = new Map<string, Set<string>>();
  add(key: string, id: string) {
    const set = this.#map.get(key) ?? new Set();
    this.#map.set(key, set.add(id));
  }
  delete(key: string, id: string) {
    const set = this.#map.get(key);
    set?.delete(id);
    if (set?.size === 0) this.#map.delete(key);
  }
  get(key: string): string[] {
    return [...(this.#map.get(key) ?? [])];
  }
  keys() {
    return [...this.#map.keys()];
  }
}

export class MessageIndex {
  readonly byReceiver = new IdSets();
  readonly bySender = new IdSets();
  /** Deadlines of the messages that can still expire, by message ID. */
  readonly expiring = new Map<string, number>();

  /** One message changed (`after` null: deleted). */
  apply(before: Message | undefined, after: Message | null) {
    const m = after ?? before;
    if (!m) return;
    if (after) {
      this.byReceiver.add(after.to, after.id);
      this.bySender.add(after.from, after.id);
    } else {
      this.byReceiver.delete(m.to, m.id);
      this.bySender.delete(m.from, m.id);
    }
    if (after?.expiresAt != null && LIVE.has(after.status)) this.expiring.set(m.id, after.expiresAt);
    else this.expiring.delete(m.id);
  }
}
