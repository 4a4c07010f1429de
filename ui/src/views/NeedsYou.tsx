// "Needs you" (contract §21): the agents waiting for a person, oldest first, each with a box that types the answer.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { hostOffline, mayChange, onCaughtUp, onEvent, state } from '../store';
import { isFinalSession, type Session } from '../types';
import { Badge, timeAgo } from '../util';

const NOTIFY_KEY = 'maestro-notify';

/** The sessions whose agent waits for a person, the longest waiting first. */
export const waitingSessions = (): Session[] =>
  [...state.sessions.values()]
    .filter((s) => s.attention?.state === 'needs_input' && !isFinalSession(s.status))
    .sort((a, b) => a.attention!.since - b.attention!.since);

/** "agent …", so it is not read as the session's status next to it (a session and its agent can both be `idle`). */
const ATTENTION_LABEL = { working: 'agent working', needs_input: 'needs you', idle: 'agent idle' } as const;
const ATTENTION_MEANING = {
  working: 'the agent is working',
  needs_input: 'the agent waits for a person',
  idle: 'the agent finished its turn and waits for its next instruction',
} as const;

/** The badge of a session's attention (outlined, unlike status badges), for cards, session rows and a session's page. */
export function AttentionBadge({ s }: { s: Session }) {
  if (!s.attention || isFinalSession(s.status)) return null;
  const { state: now, reason } = s.attention;
  return (
    <Badge kind={`att att-${now}`} title={`Attention: ${ATTENTION_MEANING[now]}${reason ? ` (${reason})` : ''}. Not the session's status.`}>
      {ATTENTION_LABEL[now]}
    </Badge>
  );
}

/** Keeps the tab's title current: the page it shows, after how many agents wait (`(2) Checkout page · Maestro`). */
export function usePageTitle(page: string | undefined) {
  const count = waitingSessions().length;
  const title = `${count ? `(${count}) ` : ''}${page ? `${page} · ` : ''}Maestro`;
  useEffect(() => {
    document.title = title;
  }, [title]);
}

/** A browser notification per new `needs_input`, once the person turned them on with the button (never asked on load). */
export function NotificationsButton() {
  const supported = typeof Notification !== 'undefined';
  const [on, setOn] = useState(supported && Notification.permission === 'granted' && localStorage.getItem(NOTIFY_KEY) === '1');
  useEffect(() => {
    if (!on) return;
    /** Waits told while the page caught up after a reconnect: shown once it has, those that still hold. */
    const told = new Map<string, number>();
    /** Only a wait that holds now: one replayed, or buffered behind a fresher snapshot, may be over already. */
    const notify = (sessionId: string, since: number) => {
      const s = state.sessions.get(sessionId);
      if (s?.attention?.state !== 'needs_input' || s.attention.since !== since || isFinalSession(s.status)) return;
      const n = new Notification(`${s.name} needs you`, { body: s.attention.reason ?? '', tag: sessionId });
      n.onclick = () => {
        focus();
        location.hash = `#/s/${encodeURIComponent(sessionId)}`;
      };
    };
    const offEvent = onEvent((e) => {
      if (e.type !== 'session:attention' || e.data?.attention?.state !== 'needs_input') return;
      if (state.catchingUp) told.set(e.data.sessionId, e.data.attention.since);
      else notify(e.data.sessionId, e.data.attention.since);
    });
    const offCaughtUp = onCaughtUp(() => {
      for (const [sessionId, since] of told) notify(sessionId, since);
      told.clear();
    });
    return () => {
      offEvent();
      offCaughtUp();
    };
  }, [on]);
  if (!supported) return null;
  const toggle = async () => {
    if (on) {
      localStorage.removeItem(NOTIFY_KEY);
      return setOn(false);
    }
    const permission = await Notification.requestPermission();
    if (permission === 'granted') localStorage.setItem(NOTIFY_KEY, '1');
    setOn(permission === 'granted');
  };
  return (
    <button type="button" aria-pressed={on} onClick={() => void toggle()} title="A browser notification whenever an agent needs you">
      {on ? 'Notifications on' : 'Turn on notifications'}
    </button>
  );
}

/** The box that types an answer into the agent; disabled, saying why, while the agent's host is offline (input would fail). */
function Answer({ s }: { s: Session }) {
  const offline = hostOffline(s);
  const whyId = `answer-why-${s.id}`;
  const [text, setText] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    if (!text.trim()) return;
    setStatus('Sending…');
    try {
      await api('POST', `/api/sessions/${encodeURIComponent(s.id)}/input`, { text });
      setText('');
      setStatus('Sent');
    } catch (error) {
      setStatus((error as Error).message);
    }
  };
  return (
    <form class="answer" onSubmit={(e) => void send(e)}>
      <input
        aria-label={`Answer ${s.name}`}
        value={text}
        disabled={offline}
        aria-describedby={offline ? whyId : undefined}
        onInput={(e) => setText(e.currentTarget.value)}
        placeholder="Type an answer…"
      />
      <button type="submit" disabled={offline}>
        Send
      </button>
      {offline && (
        <span id={whyId} class="muted small">
          {s.host} is offline: the answer can be typed once it reconnects.
        </span>
      )}
      {status && !offline && (
        <span class="muted small" role="status">
          {status}
        </span>
      )}
    </form>
  );
}

/** The list itself: nothing at all when no agent waits. */
export function NeedsYou() {
  const waiting = waitingSessions();
  if (waiting.length === 0) return null;
  return (
    <section class="needs-you" aria-labelledby="needs-you-title">
      <h2 id="needs-you-title">
        Needs you <span class="muted">({waiting.length})</span>
      </h2>
      <ul class="plain">
        {waiting.map((s) => (
          <li key={s.id}>
            <a href={`#/s/${encodeURIComponent(s.id)}`}>{s.name}</a>{' '}
            {hostOffline(s) && (
              <>
                <Badge kind="warn">host {s.host} offline</Badge>{' '}
              </>
            )}
            <span class="reason">{s.attention!.reason ?? 'Waiting for input'}</span>{' '}
            <span class="muted small">{timeAgo(s.attention!.since)}</span>
            {mayChange() && <Answer s={s} />}
          </li>
        ))}
      </ul>
    </section>
  );
}
