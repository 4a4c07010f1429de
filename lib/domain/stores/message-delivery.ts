// Delivery taken in bulk (contract §16.3): a receiver's first read of a large inbox records one delivery mark
// instead of rewriting every message file; a pending file inside a mark is served as delivered.
import type { Tx } from '../../storage/db.js';
import type { DeliveryMark, DeliveryMarks, Message } from '../types.js';

/** Fewer pending messages than this are delivered file by file; more take one mark. */
export const BULK_DELIVERY_MIN = 64;

const atOrBefore = (m: Message, through: DeliveryMark['through']) =>
  m.createdAt < through.createdAt || (m.createdAt === through.createdAt && m.id <= through.id);

const covers = (mark: DeliveryMark, m: Message) => (mark.after === null || m.createdAt > mark.after) && atOrBefore(m, mark.through);

/** The message as served: a stored `pending` inside one of its receiver's marks is `delivered` at the first one's time. */
export function served(m: Message, marks: DeliveryMarks | undefined): Message {
  if (m.status !== 'pending' || !marks) return m;
  const mark = marks.marks.find((k) => covers(k, m));
  return mark ? { ...m, status: 'delivered', deliveredAt: mark.at } : m;
}

/**
 * Takes delivery of `shown` (the receiver's own read, oldest first, as served) in `tx`; returns them as they are now.
 * When many are pending, the ones created before this millisecond take one mark (bounded below by the read's `since`,
 * so every stored pending message in its range is one shown here) and only the marks' file is written; the rest,
 * and small deliveries, are written one by one. `inbox` is the receiver's stored messages, to drop spent marks.
 */
export function deliverShown(
  tx: Tx,
  receiverId: string,
  shown: Message[],
  since: number | undefined,
  inbox: Message[],
  deliverOne: (m: Message) => Message,
): Message[] {
  const older = shown.filter((m) => m.status === 'pending' && m.createdAt < tx.now);
  if (older.length < BULK_DELIVERY_MIN) return shown.map((m) => (m.status === 'pending' ? deliverOne(m) : m));
  const last = older[older.length - 1]!;
  const mark: DeliveryMark = { after: since ?? null, through: { createdAt: last.createdAt, id: last.id }, at: tx.now };
  // A mark that no longer covers a stored pending message (all read, expired, failed or deleted since) is dropped.
  const pending = inbox.filter((m) => m.status === 'pending');
  const live = (tx.get('deliveries', receiverId)?.marks ?? []).filter((k) => pending.some((m) => covers(k, m)));
  tx.put('deliveries', { sessionId: receiverId, marks: [...live, mark] });
  const inMark = new Set(older.map((m) => m.id));
  return shown.map((m) => {
    if (m.status !== 'pending') return m;
    if (!inMark.has(m.id)) return deliverOne(m);
    const delivered: Message = { ...m, status: 'delivered', deliveredAt: tx.now };
    tx.emit('message:delivered', delivered);
    return delivered;
  });
}
