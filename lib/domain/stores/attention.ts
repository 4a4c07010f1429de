// Applies attention signals (contract §21) to sessions: the state machine's result, its events and its timeline entry.
import type { Db, Tx } from '../../storage/db.js';
import { type AttentionSignal, transition } from '../attention.js';
import { type HookPayload, hookState } from '../hook-events.js';
import type { Session } from '../types.js';
import { bounded, timelineEntry } from './session-history.js';

/** Only a runner-managed agent that runs has an attention that moves; after its exit the last value stays (§21). */
const tracked = (s: Session) => s.host !== null && s.run?.state === 'running';

export class AttentionStore {
  constructor(private readonly db: Db) {}

  /**
   * The session after `signal`, inside a mutation: the new attention and, on a change to `needs_input` that no report
   * already wrote, its timeline entry. Emits nothing; `emit` sends the events once the session is stored. `changed`:
   * the session is to be written; `announced`: its attention's state changed (`session:attention` is due).
   */
  apply(tx: Tx, session: Session, signal: AttentionSignal): { session: Session; changed: boolean; announced: boolean } {
    const unchanged = { session, changed: false, announced: false };
    if (!tracked(session)) return unchanged;
    const { next, changed, announced } = transition(session.attention ?? null, signal, tx.now);
    if (!changed || !next) return unchanged;
    const entry =
      announced && next.state === 'needs_input' && signal.source !== 'report'
        ? [timelineEntry(tx, { type: 'needs_input', message: next.reason ?? 'Waiting for input' })]
        : [];
    return { session: { ...session, attention: next, timeline: [...session.timeline, ...entry] }, changed, announced };
  }

  /**
   * `session:updated`, then `session:attention` when the state changed (§21). A change of only who holds the state
   * (its `source`) is written and sent with the session, but is no news for a person: no notification, no watch line.
   */
  emit(tx: Tx, session: Session, announced = true) {
    tx.emit('session:updated', session);
    if (announced && session.attention) tx.emit('session:attention', { sessionId: session.id, attention: session.attention });
  }

  /** One signal about a session; undefined when the session is gone. No write and no event when nothing changed. */
  signal(sessionId: string, signal: AttentionSignal): Promise<Session | undefined> {
    // Most signals change nothing (every key typed, every hook of a busy agent): those skip the write queue. A session
    // not running yet goes through it: its runner's `started` may be queued just ahead.
    const committed = this.db.get('sessions', sessionId);
    if (committed && tracked(committed) && !transition(committed.attention ?? null, signal, 0).changed) return Promise.resolve(committed);
    return this.db.mutate((tx) => {
      const current = tx.get('sessions', sessionId);
      if (!current) return undefined;
      const { session, changed, announced } = this.apply(tx, current, signal);
      if (!changed) return current;
      const updated = bounded(tx, { ...session, lastActivity: tx.now });
      tx.put('sessions', updated);
      this.emit(tx, updated, announced);
      return updated;
    });
  }

  /** A hook reported by `maestro hook <event>`; an event that says nothing about attention changes nothing. */
  async hook(sessionId: string, event: string, payload: HookPayload = {}): Promise<Session | undefined> {
    const said = hookState(event, payload);
    if (!said) return this.db.get('sessions', sessionId);
    return this.signal(sessionId, { source: 'hook', ...said });
  }
}
