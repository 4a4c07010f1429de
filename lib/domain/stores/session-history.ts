// Bounded sessions (contract §24.9): the newest 100 timeline entries and events stay in the session, older timeline
// entries move to its history, paged newest first by `GET /api/sessions/:id/timeline`.
import { validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Db, Tx } from '../../storage/db.js';
import type { Session, TimelineEntry } from '../types.js';

/**
 * A new timeline entry, written by whoever runs the mutation (§23): a client's own entry, and just as well what its
 * request makes the server write (a link, a claim, a queue step, a stop, a hook's `needs_input`), a runner's report or
 * a sweep. The actor comes last, so a client can never write its own.
 */
export const timelineEntry = (tx: Tx, fields: Omit<TimelineEntry, 'id' | 'timestamp' | 'actor'>): TimelineEntry => ({
  id: newId('evt', tx.now),
  timestamp: tx.now,
  ...fields,
  actor: tx.actor,
});

/** How many timeline entries and events a stored (and served) session keeps. */
export const SESSION_KEEPS = 100;

/** The `order` of the newest archived entry: a clock in microseconds that never repeats or goes back in a process. */
let lastOrder = 0;

/**
 * The session as it may be stored: timeline entries beyond the newest 100 are archived one entity each (so an append
 * writes a bounded number of bytes, never the whole history again); events beyond the newest 100 are dropped from the
 * session (every one of them is already in the event log, in the `session:updated` that added it).
 */
export function bounded(tx: Tx, session: Session): Session {
  const { timeline, events } = session;
  if (timeline.length <= SESSION_KEEPS && events.length <= SESSION_KEEPS) return session;
  const cut = Math.max(0, timeline.length - SESSION_KEEPS);
  for (const entry of timeline.slice(0, cut)) {
    lastOrder = Math.max(tx.now * 1000, lastOrder + 1);
    tx.put('history', { id: entry.id, sessionId: session.id, order: lastOrder, entry });
  }
  return { ...session, timeline: timeline.slice(cut), events: events.slice(-SESSION_KEEPS) };
}

/** Removes a deleted session's history. */
export function dropHistory(tx: Tx, sessionId: string): void {
  for (const id of tx.ids('historyBySession', sessionId)) tx.remove('history', id);
}

/** One page of a session's whole timeline, newest first, starting below the entry `before` (§24.9). */
export function timelinePage(
  db: Db,
  session: Session,
  before: string | undefined,
  limit: number,
): { entries: TimelineEntry[]; next: string | null } {
  // Loaded from files, the index is in directory order, not the order the entries were archived in.
  const archived = [...db.indexes.historyBySession.get(session.id)].map((id) => db.get('history', id)!).sort((a, b) => a.order - b.order);
  const all = [...archived.map((h) => h.entry), ...session.timeline];
  let end = all.length;
  if (before !== undefined) {
    end = all.findIndex((e) => e.id === before);
    if (end < 0) throw validationError(`before: no timeline entry ${before} in this session`, { before });
  }
  const start = Math.max(0, end - limit);
  return { entries: all.slice(start, end).reverse(), next: start > 0 ? all[start]!.id : null };
}
