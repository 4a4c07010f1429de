// Applies attention signals (contract §21) to sessions: the state machine's result, its events and its timeline entry.
import type { Db, Tx } from '../../storage/db.js';
import { type AttentionSignal, transition } from '../attention.js';
import { type HookPayload, hookState } from '../hook-events.js';
import type { Session } from '../types.js';
import { bounded, timelineEntry } from './session-history.js';

/** Only a runner-managed agent that runs has an attention that moves; after its exit the last value stays (§21). */
const tracked = (s: Session) => s.host !== null && s.run?.state === 'running';

export class AttentionStore {
  /** Whether a hook or report holds a session's state against the terminal (the machine's memory beside the entity). */
  readonly #held = new Map<string, boolean>();

  constructor(private readonly db: Db) {
    // A session that ended or is gone has an attention that no longer moves: its hold goes with it.
    db.onApply((kind, before, after) => {
      if (kind !== 'sessions') return;
      const session = after as Session | null;
      if (!session || !tracked(session)) this.#held.delete((before as Session | undefined)?.id ?? session!.id);
    });
  }

  /** Sessions whose hold is kept in memory (for tests: each is a running agent's). */
  heldSessions = () => this.#held.size;

  /**
   * The session after `signal`, inside a mutation: the new attention and, on a change to `needs_input` that no report
   * already wrote, its timeline entry. Emits nothing; `emit` sends the events once the session is stored.
   */
  apply(tx: Tx, session: Session, signal: AttentionSignal): { session: Session; changed: boolean } {
    if (!tracked(session)) return { session, changed: false };
    const machine = { attention: session.attention ?? null, held: this.#held.get(session.id) ?? false };
    const { next, changed } = transition(machine, signal, tx.now);
    if (next.held) this.#held.set(session.id, true);
    else this.#held.delete(session.id);
    if (!changed || !next.attention) return { session, changed: false };
    const entry =
      next.attention.state === 'needs_input' && signal.source !== 'report'
        ? [timelineEntry(tx, { type: 'needs_input', message: next.attention.reason ?? 'Waiting for input' })]
        : [];
    return { session: { ...session, attention: next.attention, timeline: [...session.timeline, ...entry] }, changed: true };
  }

  /** `session:updated`, then `session:attention` (§21). */
  emit(tx: Tx, session: Session) {
    tx.emit('session:updated', session);
    if (session.attention) tx.emit('session:attention', { sessionId: session.id, attention: session.attention });
  }

  /** One signal about a session; undefined when the session is gone. No write and no event when nothing changed. */
  signal(sessionId: string, signal: AttentionSignal): Promise<Session | undefined> {
    // Most signals change nothing (every key typed, every hook of a busy agent): those skip the write queue. A session
    // not running yet goes through it: its runner's `started` may be queued just ahead.
    const committed = this.db.get('sessions', sessionId);
    if (committed && tracked(committed) && !this.#wouldChange(committed, signal)) return Promise.resolve(committed);
    return this.db.mutate((tx) => {
      const current = tx.get('sessions', sessionId);
      if (!current) return undefined;
      const { session, changed } = this.apply(tx, current, signal);
      if (!changed) return current;
      const updated = bounded(tx, { ...session, lastActivity: tx.now });
      tx.put('sessions', updated);
      this.emit(tx, updated);
      return updated;
    });
  }

  /** A hook reported by `maestro hook <event>`; an event that says nothing about attention changes nothing. */
  async hook(sessionId: string, event: string, payload: HookPayload = {}): Promise<Session | undefined> {
    const said = hookState(event, payload);
    if (!said) return this.db.get('sessions', sessionId);
    return this.signal(sessionId, { source: 'hook', ...said });
  }

  #wouldChange(session: Session, signal: AttentionSignal): boolean {
    const { next, changed } = transition({ attention: session.attention ?? null, held: this.#held.get(session.id) ?? false }, signal, 0);
    if (!changed) {
      if (next.held) this.#held.set(session.id, true);
      else this.#held.delete(session.id);
    }
    return changed;
  }
}
