// Messages between sessions (contract §16): the rules of sending, inbox and outbox, delivery, reading, deleting, wake-up.
import { ApiError, notFound, sessionNotFound, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Logger } from '../../log.js';
import { parseInput } from '../../parse.js';
import type { Db, Tx } from '../../storage/db.js';
import { type MessageQueryInput, SendMessage } from '../requests.js';
import { type DeliveryMarks, FINAL_SESSION_STATUSES, isFinalSessionStatus, type Message, type Session } from '../types.js';
import { deliverShown, served } from './message-delivery.js';
import { byAge, LIVE, MessageIndex } from './message-index.js';
import { MessageRate } from './message-rate.js';
import { MessageUpkeep } from './message-upkeep.js';

export { FAIL_REASON } from './message-upkeep.js';

const MINUTE = 60_000;
const NOTIFY_EVERY_MS = 30_000;

/**
 * Types the wake-up notice into a runner-managed receiver's terminal (§16.3). Set by the runner hub; resolves true
 * when the notice was typed (the message then becomes `delivered`), false when the receiver has no running agent.
 */
export type Notify = (sessionId: string, message: Message) => boolean | Promise<boolean>;

/** The one-line notice a runner types into a receiver's terminal (§16.3). */
export const wakeNotice = (m: Message) => `[maestro] New message from ${m.from}: run "maestro inbox"`;

export interface MessageOptions {
  /** Messages a session may send per rolling minute; 0 = unlimited. */
  rate: number;
  retentionDays: number;
}

const roleOf = (s: Session) => (s.metadata?.role === 'orchestrator' ? 'orchestrator' : 'worker');
/** §16.2 rule 5: an orchestrator may message anyone; a worker an orchestrator or a worker of its own project. */
const mayMessage = (from: Session, to: Session) =>
  roleOf(from) === 'orchestrator' || roleOf(to) === 'orchestrator' || from.projectId === to.projectId;

/**
 * Messages between sessions (contract §16): sending with its rules, delivery, acknowledgement, expiry, failure when
 * the receiver ends, retention. Files live under `messages/by-receiver/<to>/`; the by-sender index is in memory.
 */
export class MessageStore {
  readonly #index = new MessageIndex();
  readonly #upkeep: MessageUpkeep;
  /** Sends per session in the last minute (§16.2 rule 6), across instances. */
  readonly #rate: MessageRate;
  readonly #notifiedAt = new Map<string, number>();
  /** The wake-up hook (§16.3), set by whoever can type into agents' terminals; unset = no wake-up. */
  notify: Notify | undefined;

  constructor(
    private readonly db: Db,
    options: MessageOptions,
    private readonly log: Logger,
  ) {
    this.#rate = new MessageRate(options.rate);
    this.#upkeep = new MessageUpkeep(db, this.#index, this.#served, options.retentionDays, log);
    const since = db.now() - MINUTE;
    for (const m of [...db.all('messages')].sort(byAge)) {
      this.#index.apply(undefined, m);
      if (m.createdAt > since) this.#rate.count(m);
    }
    db.onApply((kind, before, after) => {
      if (kind === 'messages') {
        this.#index.apply(before as Message | undefined, after as Message | null);
        if (!before && after) {
          this.#rate.count(after as Message);
          // Every instance hears every new message (§22.2); the notify hook types only where the agent's runner is.
          this.#wake(after as Message);
        }
      } else if (kind === 'sessions') {
        this.#upkeep.sessionChanged(before as Session | undefined, after as Session | null);
        // A session that ended or is gone sends and receives nothing more: forget its rate window and wake-up time.
        const ended = after as Session | null;
        if (!ended || isFinalSessionStatus(ended.status)) this.#forget((before as Session | undefined)?.id ?? ended?.id);
      }
    });
  }

  /** Repairs what a crash between a session's end and its follow-up left, applies retention, starts the timers. */
  start = (): Promise<() => void> => this.#upkeep.start();
  /** Expires every message not read by its deadline (§16.4). Returns how many. */
  sweep = (): Promise<number> => this.#upkeep.sweep();
  /** Deletes messages older than the retention period, without events (§16.4). Returns how many. */
  retain = (): Promise<number> => this.#upkeep.retain();

  /** A stored message as served: inside a delivery mark of its receiver, a pending file is delivered. */
  readonly #served = (m: Message | undefined, tx: Pick<Tx, 'get'> = this.db): Message | undefined => {
    if (m?.status !== 'pending') return m;
    const marks = tx.get('deliveries', m.to);
    if (!marks) return m;
    // The same object for the same stored message and marks, so that serialised answers can be reused.
    const known = this.#servedCache.get(m);
    if (known?.marks === marks) return known.served;
    const view = served(m, marks);
    this.#servedCache.set(m, { marks, served: view });
    return view;
  };
  readonly #servedCache = new WeakMap<Message, { marks: DeliveryMarks; served: Message }>();

  get(id: string): Message {
    const message = this.#served(this.db.get('messages', id));
    if (!message) throw notFound('Message not found', { messageId: id });
    return message;
  }

  /** `POST /api/sessions/:id/messages`: every rule of §16.2 in its order; `from` null = a person. */
  async send(receiverId: string, input: unknown, from: string | null): Promise<Message> {
    // Every build of this send (a shared engine may rebuild it), so that none stays counted once it settled.
    const built: string[] = [];
    const sending = this.db.mutate((tx) => {
      const receiver = tx.get('sessions', receiverId);
      if (!receiver) throw sessionNotFound(receiverId);
      const body = parseInput(SendMessage, input);
      const replyTo = body.metadata.replyTo;
      if (replyTo !== undefined) {
        const original = tx.get('messages', replyTo);
        if (!original) throw notFound('Message not found', { messageId: replyTo });
        if ([original.from, original.to].sort().join() !== [from ?? 'user', receiverId].sort().join()) {
          throw validationError('metadata.replyTo must name a message between the same sender and receiver', { messageId: replyTo });
        }
      }
      const sender = from === null ? undefined : tx.get('sessions', from);
      if (from !== null && !sender) throw sessionNotFound(from);
      if (from === receiverId) throw validationError('A session cannot send a message to itself', { sessionId: from });
      for (const s of [sender, receiver]) {
        if (s && FINAL_SESSION_STATUSES.includes(s.status)) {
          throw new ApiError(400, 'SESSION_NOT_ACTIVE', `Session ${s.id} has ended (${s.status})`, { sessionId: s.id, status: s.status });
        }
      }
      if (sender && !mayMessage(sender, receiver)) {
        throw new ApiError(403, 'FORBIDDEN', 'A worker may message only an orchestrator or a worker of its own project', {
          from: sender.id,
          to: receiver.id,
        });
      }
      if (sender) this.#rate.check(tx, sender.id);
      const message: Message = {
        id: newId('msg', tx.now),
        from: from ?? 'user',
        to: receiverId,
        projectId: receiver.projectId,
        message: body.message,
        status: 'pending',
        createdAt: tx.now,
        deliveredAt: null,
        readAt: null,
        expiresAt: body.expiresInMs === undefined ? null : tx.now + body.expiresInMs,
        metadata: body.metadata,
      };
      tx.put('messages', message);
      tx.emit('message:created', message);
      if (sender) tx.emit('session:message_sent', { sessionId: sender.id, message });
      tx.emit('session:message_received', { sessionId: receiverId, message });
      this.#rate.building(message);
      built.push(message.id);
      return message;
    });
    return sending.finally(() => this.#rate.settled(built));
  }

  /**
   * `GET /api/sessions/:id/messages`, oldest first. The receiver reading its own inbox takes delivery of every
   * `pending` message it is shown (§16.3); any other reader sees the messages as they are.
   */
  async list(sessionId: string, query: MessageQueryInput, caller: string | null): Promise<Message[]> {
    const found = this.peek(sessionId, query);
    if (!this.#ownInbox(sessionId, query, caller) || !found.some((m) => m.status === 'pending')) return found;
    return this.db.mutate((tx) => {
      if (!tx.get('sessions', sessionId)) throw sessionNotFound(sessionId);
      const shown = this.#select(sessionId, query, (id) => this.#served(tx.get('messages', id), tx));
      const inbox = this.#index.byReceiver.get(sessionId).flatMap((id) => tx.get('messages', id) ?? []);
      return deliverShown(tx, sessionId, shown, query.since, inbox, (m) => this.#deliver(tx, m));
    });
  }

  /**
   * Whether `caller` reading this box takes delivery: the receiver reading its own inbox while a message in it is
   * still pending. Otherwise the read changes nothing, and its answer depends on the state alone.
   */
  takesDelivery = (sessionId: string, query: MessageQueryInput, caller: string | null) =>
    this.#ownInbox(sessionId, query, caller) &&
    this.#index.byReceiver.get(sessionId).some((id) => this.#served(this.db.get('messages', id))?.status === 'pending');

  /** The receiver reading its own inbox. */
  #ownInbox = (sessionId: string, query: MessageQueryInput, caller: string | null) => caller === sessionId && query.box !== 'sent';

  /** The box as it is, without taking delivery: what anyone but the receiver reads. */
  peek(sessionId: string, query: MessageQueryInput): Message[] {
    if (!this.db.get('sessions', sessionId)) throw sessionNotFound(sessionId);
    return this.#select(sessionId, query, (id) => this.#served(this.db.get('messages', id)));
  }

  /** The box's messages matching the query, oldest first, each read through `get`. */
  #select(sessionId: string, query: MessageQueryInput, get: (id: string) => Message | undefined): Message[] {
    const ids = query.box === 'sent' ? this.#index.bySender.get(sessionId) : this.#index.byReceiver.get(sessionId);
    const found = ids
      .map(get)
      .filter(
        (m): m is Message =>
          !!m && (!query.status || query.status.includes(m.status)) && (query.since === undefined || m.createdAt > query.since),
      )
      .sort(byAge);
    return query.limit === undefined ? found : found.slice(0, query.limit);
  }

  /** `PATCH /api/messages/:id`: `pending`→`delivered`, `pending`/`delivered`→`read`, by the receiver or a person. */
  update(id: string, status: 'delivered' | 'read', caller: string | null): Promise<Message> {
    return this.db.mutate((tx) => {
      const m = this.#served(tx.get('messages', id), tx);
      if (!m) throw notFound('Message not found', { messageId: id });
      if (caller !== null && caller !== m.to) {
        throw new ApiError(403, 'FORBIDDEN', 'Only the receiver can mark a message delivered or read', {
          messageId: id,
          sessionId: caller,
        });
      }
      if (m.status === status) return m;
      if (status === 'delivered' && m.status === 'pending') return this.#deliver(tx, m);
      if (status === 'read' && LIVE.has(m.status)) {
        const read: Message = { ...m, status: 'read', readAt: tx.now, deliveredAt: m.deliveredAt ?? tx.now };
        tx.put('messages', read);
        tx.emit('message:read', read);
        return read;
      }
      throw validationError(`A message that is ${m.status} cannot become ${status}`, { messageId: id, status: m.status });
    });
  }

  /** `DELETE /api/messages/:id`: the receiver, the sender or a person. */
  remove(id: string, caller: string | null): Promise<{ success: true; id: string }> {
    return this.db.mutate((tx) => {
      const m = tx.get('messages', id);
      if (!m) throw notFound('Message not found', { messageId: id });
      if (caller !== null && caller !== m.to && caller !== m.from) {
        throw new ApiError(403, 'FORBIDDEN', 'Only the receiver or the sender can delete a message', { messageId: id, sessionId: caller });
      }
      tx.remove('messages', id);
      tx.emit('message:deleted', { id, from: m.from, to: m.to });
      return { success: true as const, id };
    });
  }

  /** Sessions with a rate window or a wake-up time held in memory (what `#forget` prunes). */
  trackedSessions(): { rate: number; wake: number } {
    return { rate: this.#rate.size, wake: this.#notifiedAt.size };
  }

  #forget(sessionId: string | undefined) {
    if (sessionId === undefined) return;
    this.#rate.forget(sessionId);
    this.#notifiedAt.delete(sessionId);
  }

  #deliver(tx: Tx, m: Message): Message {
    const delivered: Message = { ...m, status: 'delivered', deliveredAt: tx.now };
    tx.put('messages', delivered);
    tx.emit('message:delivered', delivered);
    return delivered;
  }

  /** The wake-up notice for a runner-managed receiver: medium or high priority, at most once per 30 s per session. */
  #wake(m: Message) {
    const notify = this.notify;
    if (!notify || m.metadata.priority === 'low') return;
    const now = this.db.now();
    const last = this.#notifiedAt.get(m.to);
    if (last !== undefined && now - last < NOTIFY_EVERY_MS) return;
    this.#notifiedAt.set(m.to, now);
    Promise.resolve()
      .then(() => notify(m.to, m))
      .then(async (typed) => {
        if (!typed) {
          if (this.#notifiedAt.get(m.to) === now) this.#notifiedAt.delete(m.to);
          return;
        }
        await this.db.mutate((tx) => {
          const current = this.#served(tx.get('messages', m.id), tx);
          if (current?.status === 'pending') this.#deliver(tx, current);
        });
      })
      .catch((e) => this.log.warn(`wake-up notice for ${m.to} failed: ${String(e)}`));
  }
}
