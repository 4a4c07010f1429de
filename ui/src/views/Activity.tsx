/** The activity feed (§17): what happened, as sentences whose names open what they name, with a filter. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { logHead } from '../live';
import { state } from '../store';
import type { Envelope } from '../types';
import { clock, Field } from '../util';
import { actorText, describe, type Kind, learnNames, type Names } from './activity-sentences';

const HISTORY = 100;
const SHOWN = 300;
const KINDS: Record<Kind | '', string> = {
  '': 'Everything',
  tasks: 'Tasks',
  sessions: 'Agents',
  messages: 'Messages',
  hosts: 'Hosts',
  projects: 'Projects',
};

/** The last events from `GET /api/events`, then every live one as it arrives. */
export function ActivityView() {
  const [history, setHistory] = useState<Envelope[]>([]);
  const [kind, setKind] = useState<Kind | ''>('');
  const [search, setSearch] = useState('');
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
  const names: Names = new Map();
  const rows = [];
  const needle = search.trim().toLowerCase();
  for (const e of all) {
    learnNames(e, names);
    const sentence = describe(e, names);
    if (!sentence || (kind && sentence.kind !== kind)) continue;
    const text = sentence.parts.map((p) => (typeof p === 'string' ? p : p.text)).join('');
    if (needle && !text.toLowerCase().includes(needle)) continue;
    rows.push({ e, sentence });
  }
  const shown = rows.slice(-SHOWN).reverse();
  return (
    <section aria-labelledby="activity-title">
      <div class="title-row">
        <h1 id="activity-title">Activity</h1>
        <Field label="Show">
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind | '')}>
              {Object.entries(KINDS).map(([value, label]) => (
                <option value={value}>{label}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Search activity">
          {(id) => <input id={id} type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />}
        </Field>
      </div>
      {shown.length === 0 && <p class="muted">{all.length ? 'Nothing matches.' : 'Nothing has happened yet.'}</p>}
      <ol class="feed" aria-live="off" aria-label="Activity">
        {shown.map(({ e, sentence }) => (
          <li key={e.seq ?? `${e.type}-${e.timestamp}`} title={e.type}>
            <time class="muted small">{clock(e.timestamp)}</time>{' '}
            {sentence.parts.map((p) => (typeof p === 'string' ? p : <a href={p.href}>{p.text}</a>))}
            {e.projectId &&
              state.projects.get(e.projectId) &&
              !sentence.parts.some((p) => typeof p !== 'string' && p.href.startsWith('#/p/')) && (
                <span class="muted small"> · {state.projects.get(e.projectId)!.name}</span>
              )}
            {actorText(e.actor) && <span class="muted small actor"> · by {actorText(e.actor)}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}
