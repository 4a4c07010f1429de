import { ApiError, api } from './api';
import { type Envelope, type Host, isFinalSession, type Me, type Project, type Session, type Task } from './types';

/** Everything the dashboard shows, kept current by the snapshot and the live events. */
export const state = {
  projects: new Map<string, Project>(),
  tasks: new Map<string, Task>(),
  sessions: new Map<string, Session>(),
  hosts: new Map<string, Host>(),
  /** false when the server has no hosts endpoint (§15 not there). */
  hostsAvailable: true,
  /** The newest events seen, oldest first, for the activity feed. */
  feed: [] as Envelope[],
  loaded: false,
  /** The server wants a token and the user closed the dialog: the page says so instead of "Loading…". */
  authDeclined: false,
  /** 'connecting' | 'online' | 'offline' */
  connection: 'connecting' as 'connecting' | 'online' | 'offline',
  /** Who is signed in, and so which controls to show (§23); null on a server without `GET /api/me`. */
  me: null as Me | null,
  /**
   * From a (re)connection until the server answered the ping sent on opening: the events until then are the replay
   * of what happened while the page was away (§17), some of it over already.
   */
  catchingUp: false,
  /** Bumped by every change; views memoise on it. */
  version: 0,
};

const FEED_MAX = 300;
const listeners = new Set<() => void>();
const eventListeners = new Set<(e: Envelope) => void>();
let _timer: ReturnType<typeof setTimeout> | undefined;

/** Re-renders at most every 50 ms, so a burst of events costs one render. */
export function changed(): void {
  state.version++;
  _timer ??= setTimeout(() => {
    _timer = undefined;
    for (const l of listeners) l();
  }, 50);
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Every envelope as it arrives (for views that keep their own lists, such as a session's messages). */
export function onEvent(listener: (e: Envelope) => void): () => void {
  eventListeners.add(listener);
  return () => eventListeners.delete(listener);
}

const caughtUpListeners = new Set<() => void>();
/** Runs `listener` each time the page has caught up with the server after (re)connecting (see `state.catchingUp`). */
export function onCaughtUp(listener: () => void): () => void {
  caughtUpListeners.add(listener);
  return () => caughtUpListeners.delete(listener);
}

/** Every replayed event has been applied: what the state shows now is the present. */
export function caughtUp(): void {
  state.catchingUp = false;
  for (const l of caughtUpListeners) l();
}

/** Replaces a stored entity unless what is held is newer (a replayed or buffered event must not undo a fresher state). */
function upsert<T>(map: Map<string, T>, key: string, value: T, stamp: (v: T) => number | undefined): void {
  const held = map.get(key);
  if (held && (stamp(held) ?? 0) > (stamp(value) ?? 0)) return;
  map.set(key, value);
}

const taskStamp = (t: Task | Project) => t.updatedAt;
const sessionStamp = (s: Session) => s.lastActivity;

/** Applies one event to the state (contract §4.4, §15.1, §16.6). */
export function apply(e: Envelope): void {
  const d = e.data;
  // The status before the change, so the activity feed can say what changed ("completed", not "updated").
  if (e.type === 'task:updated') e.before = state.tasks.get(d.id)?.status;
  else if (e.type === 'session:updated') e.before = state.sessions.get(d.id)?.status;
  switch (e.type) {
    case 'project:created':
    case 'project:updated':
      upsert(state.projects, d.id, d, taskStamp);
      break;
    case 'project:deleted':
      state.projects.delete(d.id);
      break;
    case 'task:created':
    case 'task:updated':
    case 'task:ready':
      upsert(state.tasks, d.id, d, taskStamp);
      break;
    case 'task:deleted':
      state.tasks.delete(d.id);
      break;
    case 'session:created':
    case 'session:updated':
      upsert(state.sessions, d.id, d, sessionStamp);
      break;
    case 'session:spawn':
    case 'session:spawn_request':
      if (d?.session?.id) upsert(state.sessions, d.session.id, d.session, sessionStamp);
      break;
    case 'session:deleted':
      state.sessions.delete(d.id);
      break;
    case 'host:online':
    case 'host:offline':
      state.hosts.set(d.name, d);
      break;
    case 'host:deleted':
      state.hosts.delete(d.name);
      break;
  }
  state.feed.push(e);
  if (state.feed.length > FEED_MAX) state.feed.splice(0, state.feed.length - FEED_MAX);
  for (const l of eventListeners) l(e);
  changed();
}

/** Loads every project, task, session and host afresh (first load, after a reconnect without replay, on `resync`). */
export async function loadSnapshot(): Promise<void> {
  const [projects, tasks, sessions, hosts, me] = await Promise.all([
    api<Project[]>('GET', '/api/projects'),
    api<Task[]>('GET', '/api/tasks'),
    api<Session[]>('GET', '/api/sessions'),
    api<Host[]>('GET', '/api/hosts').catch((error) => {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }),
    api<Me>('GET', '/api/me').catch(() => null),
  ]);
  state.me = me;
  state.projects = new Map(projects.map((p) => [p.id, p]));
  state.tasks = new Map(tasks.map((t) => [t.id, t]));
  state.sessions = new Map(sessions.map((s) => [s.id, s]));
  state.hostsAvailable = hosts !== null;
  state.hosts = new Map((hosts ?? []).map((h) => [h.name, h]));
  state.loaded = true;
  changed();
}

/** Whether the signed-in role may change things (a viewer only watches, §23); true when the server has no roles. */
export const mayChange = () => state.me?.role !== 'viewer';
/** Whether the signed-in role may manage templates, hosts and tokens (§23). */
export const isAdmin = () => !state.me || state.me.role === 'admin';
/** True when the session's runner is gone: its last known state is no longer news, and it takes no input (§15.1). */
export const hostOffline = (s: Session) => !!s.host && state.hosts.get(s.host)?.status === 'offline' && !isFinalSession(s.status);
