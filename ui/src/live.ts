import { ApiError, api, askTokenAgain, socketUrl } from './api';
import { apply, caughtUp, changed, loadSnapshot, state } from './store';
import type { Envelope } from './types';

/**
 * The one live connection (contract §4, §17): a WebSocket that resumes with `since=<last seq>` after any drop, so the
 * server replays what was missed; a `resync` frame, a `seq` that jumps or goes back (a server without the event log),
 * or a reconnect without replay make the dashboard load its state afresh instead.
 */
let lastSeq: number | null = null;
/** Whether the server keeps the event log (`GET /api/events` exists): then a reconnect replays instead of refetching. */
let replay = false;
let needsSnapshot = true;
let loading = false;
/** Where the answer to the opening ping stands among buffered events: the replay before it has been applied. */
const FENCE = { type: 'caught-up' } as Envelope;
let buffer: Envelope[] = [];
let attempts = 0;
let socket: WebSocket | null = null;

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
const HEARTBEAT_MS = 15_000;
let again = false;
let paused = false;

/** The event log's range (§17), or null when the server keeps no log. A `since` older than the log answers 410 with it. */
export async function logHead(): Promise<{ oldestSeq: number; latestSeq: number } | null> {
  try {
    return await api('GET', '/api/events?since=0&limit=1');
  } catch (error) {
    if (error instanceof ApiError && error.status === 410) return error.details as { oldestSeq: number; latestSeq: number };
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export async function startLive(): Promise<void> {
  const head = await logHead().catch(() => null);
  if (head) {
    replay = true;
    lastSeq = head.latestSeq;
  }
  // The snapshot loads while the socket opens; events that arrive meanwhile wait for it.
  needsSnapshot = false;
  void refetch();
  connect();
}

function connect(): void {
  state.connection = attempts === 0 ? 'connecting' : 'offline';
  changed();
  const ws = new WebSocket(socketUrl('/ws', { since: replay && lastSeq !== null ? lastSeq : undefined }));
  socket = ws;
  let opened = false;
  // The server answers a ping only after the replay it owes this socket (§17): that answer marks the present.
  let fenced = false;
  ws.onopen = () => {
    opened = true;
    attempts = 0;
    state.connection = 'online';
    state.catchingUp = true;
    ws.send('{"type":"ping"}');
    changed();
    if (needsSnapshot) void refetch();
  };
  ws.onmessage = (message) => {
    let e: Envelope & { oldestSeq?: number; latestSeq?: number };
    try {
      e = JSON.parse(String(message.data));
    } catch {
      return;
    }
    if (e.type === 'pong') {
      if (fenced) return;
      fenced = true;
      if (loading) buffer.push(FENCE);
      else caughtUp();
      return;
    }
    if (e.type === 'resync') {
      lastSeq = e.latestSeq ?? null;
      void refetch();
      return;
    }
    if (typeof e.seq === 'number') {
      // Without a project filter every seq follows the last one; anything else means events were missed.
      if (lastSeq !== null && e.seq !== lastSeq + 1) void refetch();
      lastSeq = e.seq;
    }
    if (loading) buffer.push(e);
    else apply(e);
  };
  const lost = () => {
    if (socket !== ws) return;
    socket = null;
    clearInterval(heartbeat);
    state.connection = 'offline';
    if (!replay) needsSnapshot = true;
    changed();
    const delay = BACKOFF_MS[Math.min(attempts++, BACKOFF_MS.length - 1)]!;
    // A socket refused before it opened may be a refused token, which a socket cannot tell: one REST call settles it
    // (forgetting a stale token, asking for one only if the server needs it) before the next try.
    setTimeout(() => (opened ? connect() : void checkToken().then((ok) => (ok ? connect() : pause()))), delay);
  };
  ws.onclose = lost;
  // A connection that died without closing (a dropped network) answers no ping: give it up and reconnect.
  let heard = Date.now();
  ws.addEventListener('message', () => (heard = Date.now()));
  const heartbeat = setInterval(() => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - heard > HEARTBEAT_MS * 2.5) {
      lost();
      ws.close();
    } else ws.send('{"type":"ping"}');
  }, HEARTBEAT_MS);
}

/** False only when the server wants a token and the user declined to give one. */
async function checkToken(): Promise<boolean> {
  try {
    await api('GET', '/api/projects');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
  }
  return true;
}

/** Declined token: no more tries until the user asks for one (`resumeLive`), so nothing loops. */
function pause(): void {
  paused = true;
  state.connection = 'offline';
  changed();
}

/** After a declined token dialog: ask again, then load and reconnect. */
export function resumeLive(): void {
  askTokenAgain();
  void checkToken().then((ok) => {
    if (!ok) return;
    state.authDeclined = false;
    void refetch();
    if (paused) {
      paused = false;
      connect();
    }
  });
}

/** Loads the state afresh; asked again while loading, it loads once more afterwards (the first answer may be older). */
async function refetch(): Promise<void> {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  try {
    do {
      again = false;
      await loadSnapshot();
    } while (again);
    needsSnapshot = false;
    state.authDeclined = false;
  } catch (error) {
    needsSnapshot = true;
    if (error instanceof ApiError && error.status === 401) state.authDeclined = true;
  } finally {
    loading = false;
    const held = buffer;
    buffer = [];
    for (const e of held) {
      if (e === FENCE) caughtUp();
      else apply(e);
    }
  }
}
