import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { hostOffline, mayChange, onEvent, state } from '../store';
import { isFinalSession, type Message } from '../types';
import { Badge, clock, ErrorLine, Field, Missing, timeAgo, useAction } from '../util';
import { actorText } from './activity-sentences';
import { Changes } from './Changes';
import { ConfirmButton } from './Confirm';
import { AttentionBadge } from './NeedsYou';
import { StateBadges } from './Sessions';
import { Terminal } from './Terminal';

/** One session: status, run state, live terminal with input, messages, timeline, and a stop button (§15.4, §16). */
export function SessionView({ id }: { id: string }) {
  const s = state.sessions.get(id);
  const stop = useAction();
  if (!s) return <Missing what="session" list="Sessions" href="#/sessions" />;
  const project = state.projects.get(s.projectId);
  const final = isFinalSession(s.status);
  return (
    <section aria-labelledby="session-title" class="session">
      <div class="title-row">
        <h1 id="session-title">{s.name}</h1>
        <StateBadges s={s} />
        <AttentionBadge s={s} />
        {mayChange() && (
          <>
            <ConfirmButton
              label="Stop session"
              title={`Stop ${s.name}?`}
              action="Stop agent"
              question={<p>The agent's terminal is closed and its claimed tasks go back to the board.</p>}
              disabled={final || stop.busy}
              act={() => api('POST', `/api/sessions/${encodeURIComponent(id)}/stop`, { reason: 'Stopped from the dashboard' })}
            />
            <ConfirmButton
              label="Delete session"
              title={`Delete ${s.name}?`}
              action="Delete session"
              question={<p>The session and its timeline are removed; its tasks stay.{final ? '' : ' Its agent is not stopped.'}</p>}
              act={async () => {
                await api('DELETE', `/api/sessions/${encodeURIComponent(id)}`);
                location.hash = '#/sessions';
              }}
            />
          </>
        )}
      </div>
      <ErrorLine error={stop.error} />
      <dl class="facts">
        <dt>Project</dt>
        <dd>{project ? <a href={`#/p/${encodeURIComponent(project.id)}`}>{project.name}</a> : s.projectId}</dd>
        <dt>Host</dt>
        <dd>{s.host ? `${s.host}${hostOffline(s) ? ' (offline: state not current)' : ''}` : 'none (not runner-managed)'}</dd>
        <dt>Agent</dt>
        <dd>{s.agent ?? '—'}</dd>
        <dt>Strategy</dt>
        <dd>{s.strategy}</dd>
        <dt>Run</dt>
        <dd>
          {s.run
            ? `${s.run.state}${s.run.pid ? ` · pid ${s.run.pid}` : ''}${s.run.exitCode != null ? ` · exit ${s.run.exitCode}` : ''}${s.run.reason ? ` · ${s.run.reason}` : ''}`
            : '—'}
        </dd>
        <dt>Started</dt>
        <dd>{timeAgo(s.startedAt)}</dd>
        <dt>Last activity</dt>
        <dd>{timeAgo(s.lastActivity)}</dd>
        {s.workspace && (
          <>
            <dt>Workspace</dt>
            <dd>
              {s.workspace.mode === 'worktree'
                ? `${s.workspace.branch} from ${s.workspace.baseBranch ?? s.workspace.baseCommit}`
                : 'shared'}
            </dd>
          </>
        )}
        <dt>Tasks</dt>
        <dd>
          {s.taskIds.length === 0
            ? '—'
            : s.taskIds.map((t, i) => (
                <>
                  {i > 0 && ', '}
                  {state.tasks.has(t) ? <a href={`#/t/${encodeURIComponent(t)}`}>{state.tasks.get(t)!.title}</a> : 'a deleted task'}
                </>
              ))}
        </dd>
      </dl>
      {!s.run ? (
        <p class="muted">No live terminal: this session was not launched by a runner.</p>
      ) : hostOffline(s) ? (
        <p class="muted">No terminal while {s.host} is offline: it shows again when the host reconnects.</p>
      ) : s.run.state === 'pending' ? (
        <p class="muted">Waiting for {s.host ?? 'the host'} to launch the agent…</p>
      ) : s.run.state === 'lost' || (s.run.state === 'exited' && s.status === 'stopped') ? (
        // A stop ends the terminal with the agent; a lost agent has none left (§15.4: 409 for both).
        <p class="muted">No live terminal: the agent {s.run.state === 'lost' ? 'was lost' : 'was stopped'}.</p>
      ) : (
        // A new state (running → exited) opens the terminal afresh: an ended agent's last screen is kept (§15.4).
        <Terminal key={`${id}-${s.run.state}`} sessionId={id} alive={s.run.state === 'running'} />
      )}
      {s.workspace?.mode === 'worktree' && <Changes session={s} />}
      <div class="split">
        <Messages sessionId={id} ended={final} />
        <section aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          <ol class="timeline">
            {[...s.timeline].reverse().map((t) => (
              <li key={t.id}>
                <time class="muted small">{clock(t.timestamp)}</time> <Badge>{t.type.replace(/_/g, ' ')}</Badge> {t.message}
                {actorText(t.actor) && <span class="muted small actor"> · by {actorText(t.actor)}</span>}
              </li>
            ))}
          </ol>
        </section>
      </div>
    </section>
  );
}

/** The session's inbox and sent box, kept current by `message:*` events, with a box to send one as the user. */
function Messages({ sessionId, ended }: { sessionId: string; ended: boolean }) {
  const [messages, setMessages] = useState<Map<string, Message>>(new Map());
  const [available, setAvailable] = useState(true);
  const [text, setText] = useState('');
  const send = useAction();
  useEffect(() => {
    let live = true;
    const base = `/api/sessions/${encodeURIComponent(sessionId)}/messages`;
    Promise.all([api<Message[]>('GET', `${base}?box=inbox`), api<Message[]>('GET', `${base}?box=sent`)])
      .then(([inbox, sent]) => live && setMessages(new Map([...inbox, ...sent].map((m) => [m.id, m]))))
      .catch((e) => live && e instanceof ApiError && e.status === 404 && e.code === 'NOT_FOUND' && setAvailable(false));
    const off = onEvent((e) => {
      if (!e.type.startsWith('message:')) return;
      setMessages((held) => {
        const next = new Map(held);
        if (e.type === 'message:deleted') next.delete(e.data.id);
        else if (e.data.to === sessionId || e.data.from === sessionId) next.set(e.data.id, e.data);
        else return held;
        return next;
      });
    });
    return () => {
      live = false;
      off();
    };
  }, [sessionId]);
  const all = [...messages.values()].sort((a, b) => a.createdAt - b.createdAt);
  const inbox = all.filter((m) => m.to === sessionId);
  const sent = all.filter((m) => m.from === sessionId);
  const name = (sid: string) => (sid === 'user' ? 'you' : (state.sessions.get(sid)?.name ?? sid));
  const list = (items: Message[], label: string, who: (m: Message) => string) => (
    <section aria-label={label}>
      <h3>
        {label} <span class="muted">({items.length})</span>
      </h3>
      {items.length === 0 ? (
        <p class="muted small">None.</p>
      ) : (
        <ul class="messages">
          {items.map((m) => (
            <li key={m.id}>
              <span class="muted small">
                {who(m)} · {clock(m.createdAt)} · <Badge kind={`msg-${m.status}`}>{m.status}</Badge>
              </span>
              <p>{m.message}</p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
  return (
    <section aria-labelledby="messages-title">
      <h2 id="messages-title">Messages</h2>
      {!available && <p class="muted">This server does not route messages.</p>}
      {list(inbox, 'Inbox', (m) => `from ${name(m.from)}`)}
      {list(sent, 'Sent', (m) => `to ${name(m.to)}`)}
      {mayChange() && (
        <form
          class="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await send.run(() => api('POST', `/api/sessions/${encodeURIComponent(sessionId)}/messages`, { message: text })))
              setText('');
          }}
        >
          <Field label="Message to this session">
            {(id) => <textarea id={id} rows={2} required value={text} disabled={ended} onInput={(e) => setText(e.currentTarget.value)} />}
          </Field>
          <ErrorLine error={send.error} />
          <div class="actions">
            <button type="submit" class="primary" disabled={send.busy || ended}>
              Send message
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
