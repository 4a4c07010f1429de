import { type JSX, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onTokenNeeded, type TokenRequest } from './api';
import { resumeLive, startLive } from './live';
import { isAdmin, mayChange, state } from './store';
import './style.css';
import { Field, Modal, useLive } from './util';
import { ActivityView } from './views/Activity';
import { HostsView } from './views/Hosts';
import { NeedsYou, NotificationsButton, usePageTitle } from './views/NeedsYou';
import { ProjectView } from './views/Project';
import { ProjectsView } from './views/Projects';
import { SessionView } from './views/Session';
import { SessionsView } from './views/Sessions';
import { SpawnDialog } from './views/Spawn';
import { TaskView } from './views/TaskDetail';
import { TokensView } from './views/Tokens';

/** Hash routes, so the server needs no fallback route: every unknown path keeps its JSON 404 (§19). */
function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onHash = () => setRoute(read());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

const CONNECTION_TEXT = { connecting: 'Connecting…', online: 'Live', offline: 'Offline — reconnecting' };

function TokenDialog({ retry, answer, cancel }: TokenRequest) {
  const [value, setValue] = useState('');
  return (
    <Modal title="Access token" onClose={cancel}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) answer(value.trim());
        }}
      >
        <p>{retry ? 'That token was refused. ' : ''}This server needs its access token (MAESTRO_TOKEN). It is kept for this tab only.</p>
        <Field label="Token">
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="off"
              autofocus
              required
              value={value}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
          )}
        </Field>
        <div class="actions">
          <button type="submit" class="primary">
            Continue
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Shown instead of "Loading…" when the token dialog was closed: no dead end, a way back to it. */
const TokenNeeded = () => (
  <section class="stack" aria-labelledby="token-needed">
    <h1 id="token-needed">Access token needed</h1>
    <p>This server needs its access token (MAESTRO_TOKEN) before it shows anything.</p>
    <p>
      <button type="button" class="primary" onClick={resumeLive}>
        Enter token…
      </button>
    </p>
  </section>
);

export type SpawnRequest = { projectId?: string; taskIds?: string[] };

/** The project the page is about (a project's, a task's or a session's page), where the header's Spawn starts. */
function pageProject([section, id = '']: string[]): string | undefined {
  if (section === 'p') return id;
  if (section === 's') return state.sessions.get(id)?.projectId;
  if (section === 't') return state.tasks.get(id)?.projectId;
  return undefined;
}

const PAGE_NAMES = new Map([
  ['sessions', 'Sessions'],
  ['hosts', 'Hosts'],
  ['activity', 'Activity'],
  ['people', 'People'],
]);

/** What the tab's title calls the page: the project, task or session it shows (by name), else the page's own name. */
function pageName([section = '', id]: string[]): string {
  if (section === 'p' && id) return state.projects.get(id)?.name ?? 'Project not found';
  if (section === 't' && id) return state.tasks.get(id)?.title ?? 'Task not found';
  if (section === 's' && id) return state.sessions.get(id)?.name ?? 'Session not found';
  return PAGE_NAMES.get(section) ?? 'Projects';
}

function App() {
  useLive();
  const route = useRoute();
  usePageTitle(state.loaded ? pageName(route) : undefined);
  const [ask, setAsk] = useState<TokenRequest | null>(null);
  const [spawn, setSpawn] = useState<SpawnRequest | null>(null);
  useEffect(() => {
    onTokenNeeded((request) =>
      setAsk({
        retry: request.retry,
        answer: (t) => {
          setAsk(null);
          request.answer(t);
        },
        cancel: () => {
          setAsk(null);
          request.cancel();
        },
      }),
    );
    void startLive();
  }, []);

  const [section, id, sub] = route;
  const openSpawn = (request: SpawnRequest = {}) => setSpawn(request);
  let view: JSX.Element;
  if (section === 'p' && id) view = <ProjectView id={id} tab={sub === 'tree' ? 'tree' : 'board'} openSpawn={openSpawn} />;
  else if (section === 'sessions') view = <SessionsView />;
  else if (section === 's' && id) view = <SessionView id={id} />;
  else if (section === 't' && id) view = <TaskView id={id} openSpawn={openSpawn} />;
  else if (section === 'hosts') view = <HostsView />;
  else if (section === 'activity') view = <ActivityView />;
  else if (section === 'people') view = <TokensView />;
  else view = <ProjectsView />;
  const current = (name: string) =>
    section === name || (name === '' && (!section || section === 'p' || section === 't')) ? 'page' : undefined;

  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          Maestro
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={current('')}>
            Projects
          </a>
          <a href="#/sessions" aria-current={current('sessions') ?? current('s')}>
            Sessions
          </a>
          <a href="#/hosts" aria-current={current('hosts')}>
            Hosts
          </a>
          <a href="#/activity" aria-current={current('activity')}>
            Activity
          </a>
          {state.loaded && isAdmin() && (
            <a href="#/people" aria-current={current('people')}>
              People
            </a>
          )}
        </nav>
        <span class={`conn ${state.connection}`} role="status" aria-label={`Connection: ${CONNECTION_TEXT[state.connection]}`}>
          {CONNECTION_TEXT[state.connection]}
        </span>
        <NotificationsButton />
        {state.me && (
          <span class="me" role="status" aria-label="Signed in as">
            {state.me.actor.kind === 'user' ? state.me.actor.name : state.me.actor.kind === 'admin' ? 'Admin' : state.me.actor.name}
            {state.me.role && <span class="muted small"> ({state.me.role})</span>}
          </span>
        )}
        {mayChange() && (
          <button type="button" class="primary" onClick={() => openSpawn({ projectId: pageProject(route) })}>
            Spawn agent
          </button>
        )}
      </header>
      <main>
        {state.loaded && <NeedsYou />}
        {state.loaded ? view : state.authDeclined ? <TokenNeeded /> : <p class="muted">Loading…</p>}
      </main>
      {spawn && <SpawnDialog request={spawn} onClose={() => setSpawn(null)} />}
      {ask && <TokenDialog {...ask} />}
    </>
  );
}

render(<App />, document.getElementById('app')!);
