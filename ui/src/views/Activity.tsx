import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { logHead } from '../live';
import { state } from '../store';
import type { Envelope } from '../types';
import { clock } from '../util';

const HISTORY = 100;

/** A one-line description of an event for people. */
function describe(e: Envelope): string {
  const d = e.data ?? {};
  const thing = d.title ?? d.name ?? d.session?.name ?? d.subtask?.title ?? d.message?.message ?? d.message ?? d.id ?? d.taskId ?? '';
  return typeof thing === 'string' ? thing : '';
}

/** The event log (§17): the last events from `GET /api/events`, then every live one as it arrives. */
export function ActivityView() {
  const [history, setHistory] = useState<Envelope[]>([]);
  useEffect(() => {
    void (async () => {
      try {
        const head = await logHead();
        if (!head) return;
        const since = Math.max(head.latestSeq - HISTORY, Math.max(head.oldestSeq - 1, 0));
        setHistory((await api<{ events: Envelope[] }>('GET', `/api/events?since=${since}&limit=${HISTORY}`)).events);
      } catch {
        // No event log on this server: the live feed alone.
      }
    })();
  }, []);
  const seen = new Set<number>();
  const all = [...history, ...state.feed].filter((e) => e.seq === undefined || (!seen.has(e.seq) && seen.add(e.seq)));
  const events = all.slice(-300).reverse();
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Activity</h1>
      {events.length === 0 && <p class="muted">Nothing has happened yet.</p>}
      <ol class="feed" aria-live="off">
        {events.map((e) => (
          <li key={e.seq ?? `${e.type}-${e.timestamp}`}>
            <time class="muted small">{clock(e.timestamp)}</time> <code>{e.type}</code> {describe(e)}
            {e.projectId && state.projects.get(e.projectId) && <span class="muted small"> · {state.projects.get(e.projectId)!.name}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}
