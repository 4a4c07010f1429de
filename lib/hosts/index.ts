import { randomBytes } from 'node:crypto';
import type { WSContext, WSEvents } from 'hono/ws';
import type { TokenStore } from '../domain/tokens.js';
import { FINAL_SESSION_STATUSES, type Host, type HostRecord, type Session, type SessionRun, type TimelineEntry } from '../domain/types.js';
import { ApiError, sessionNotFound, validationError } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';
import { decode, NAME_TAKEN, RunnerMessage, type ServerMessage } from '../runner-protocol.js';
import type { Db, Tx } from '../storage/db.js';

const REPLY_TIMEOUT_MS = 10_000;
export const MAX_INPUT_BYTES = 64 * 1024;

interface Conn {
  ws: WSContext;
  name?: string;
}
interface Viewer {
  ws: WSContext;
  /** Has had the screen: from now on it gets every chunk. */
  ready: boolean;
}

export const hostNotFound = (name: string) => new ApiError(404, 'HOST_NOT_FOUND', 'Host not found', { host: name });
const notRunning = (sessionId: string) =>
  new ApiError(409, 'SESSION_NOT_RUNNING', 'The session has no running terminal on a runner', { sessionId });
const hostOffline = (name: string) => new ApiError(503, 'HOST_OFFLINE', `Host ${name} is offline`, { host: name });

const isFinal = (s: Session) => FINAL_SESSION_STATUSES.includes(s.status);
const timeline = (tx: Tx, type: TimelineEntry['type'], message: string): TimelineEntry => ({
  id: newId('evt', tx.now),
  type,
  timestamp: tx.now,
  message,
});

/**
 * The server's side of the runners (contract §15): their connections, the hosts they stand for, launches (sent at
 * once or when the host next connects), agent exits, and the control of running agents.
 */
export class HostManager {
  /** Proves that a runner is the one inside this server process (`local: true`). */
  readonly localKey = randomBytes(16).toString('hex');
  /** The embedded runner's name, when `maestro serve` started one: the default host of spawns. */
  localName: string | undefined;
  readonly #conns = new Map<string, Conn>();
  /** Raw tokens minted at spawn for launches not sent yet; never written anywhere. */
  readonly #launchTokens = new Map<string, string>();
  readonly #replies = new Map<number, { host: string; resolve: (m: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  readonly #viewers = new Map<string, Set<Viewer>>();

  constructor(
    private readonly db: Db,
    private readonly tokens: TokenStore,
    private readonly log: Logger,
  ) {}

  isOnline = (name: string) => this.#conns.has(name);

  view(record: HostRecord): Host {
    let sessions = 0;
    for (const s of this.db.all('sessions')) if (s.host === record.name && !isFinal(s)) sessions++;
    const online = this.isOnline(record.name);
    return { ...record, lastSeen: online ? Date.now() : record.lastSeen, status: online ? 'online' : 'offline', sessions };
  }

  list = (): Host[] => [...this.db.all('hosts')].map((h) => this.view(h));

  get(name: string): Host {
    const record = this.db.get('hosts', name);
    if (!record) throw hostNotFound(name);
    return this.view(record);
  }

  remove(name: string) {
    return this.db.mutate((tx) => {
      if (!tx.get('hosts', name)) throw hostNotFound(name);
      if (this.isOnline(name)) throw validationError(`Host ${name} is online: stop its runner first`);
      const busy = [...this.db.all('sessions')].some((s) => s.host === name && !isFinal(s));
      if (busy) throw validationError(`Host ${name} still has sessions that have not ended`);
      tx.remove('hosts', name);
      tx.emit('host:deleted', { name });
      return { success: true as const, name };
    });
  }

  close() {
    for (const { ws } of this.#conns.values()) ws.close(1001, 'Server shutting down');
    for (const [, reply] of this.#replies) clearTimeout(reply.timer);
  }

  // ── Runner connections ──────────────────────────────────────────────────────────────────────────────────────

  /** Handlers of one runner WebSocket (`/api/hosts/connect`). */
  runnerSocket(): WSEvents {
    const conn: Partial<Conn> = {};
    return {
      onOpen: (_e, ws) => void (conn.ws = ws),
      onMessage: (event, ws) =>
        void this.#fromRunner(conn as Conn, ws, event.data).catch((error) => this.log.error('Runner message failed', error)),
      onClose: () => this.#disconnected(conn as Conn),
      onError: () => this.#disconnected(conn as Conn),
    };
  }

  #send(name: string, message: ServerMessage): boolean {
    const conn = this.#conns.get(name);
    if (!conn) return false;
    conn.ws.send(JSON.stringify(message));
    return true;
  }

  async #fromRunner(conn: Conn, ws: WSContext, frame: unknown) {
    conn.ws = ws;
    const message = decode(RunnerMessage, frame);
    if (!message) return;
    if (message.type === 'hello') return this.#hello(conn, message);
    const name = conn.name;
    if (!name || this.#conns.get(name) !== conn) return;
    switch (message.type) {
      case 'started':
        return this.#started(name, message.sessionId, message.pid);
      case 'exited':
        return this.#exited(name, message.sessionId, message.exitCode, message.signal, message.lastLine);
      case 'failed':
        return this.#failed(name, message.sessionId, message.reason);
      case 'output': {
        const viewers = this.#viewers.get(message.sessionId);
        if (!viewers) return;
        const bytes = Buffer.from(message.data, 'base64');
        for (const viewer of viewers) {
          if (message.screen ? viewer.ready : !viewer.ready) continue;
          viewer.ready = true;
          viewer.ws.send(bytes as unknown as ArrayBuffer);
        }
        return;
      }
      case 'reply': {
        const pending = this.#replies.get(message.id);
        if (!pending) return;
        this.#replies.delete(message.id);
        clearTimeout(pending.timer);
        if (message.ok) pending.resolve(message);
        else pending.reject(new Error(message.error ?? 'The runner could not do it'));
      }
    }
  }

  async #hello(conn: Conn, hello: Extract<RunnerMessage, { type: 'hello' }>) {
    if (conn.name) return;
    const { name } = hello;
    const held = this.#conns.get(name);
    if (held && held !== conn) {
      conn.ws.close(NAME_TAKEN, `Another runner is already connected as "${name}"`);
      return;
    }
    conn.name = name;
    this.#conns.set(name, conn);
    const local = hello.localKey === this.localKey;
    await this.db.mutate((tx) => {
      const record: HostRecord = {
        name,
        hostname: hello.hostname,
        platform: hello.platform,
        arch: hello.arch,
        version: hello.version,
        agents: hello.agents,
        local,
        connectedAt: tx.now,
        lastSeen: tx.now,
      };
      tx.put('hosts', record);
      tx.emit('host:online', { ...record, status: 'online', sessions: 0 });
    });
    this.#send(name, { type: 'welcome', name });
    this.log.info(`Runner ${name} connected${local ? ' (local)' : ''}`);
    await this.#reconcile(name, hello.sessions);
    for (const [sessionId, viewers] of this.#viewers) {
      if (viewers.size && this.db.get('sessions', sessionId)?.host === name) this.#send(name, { type: 'watch', sessionId, on: true });
    }
  }

  #disconnected(conn: Conn) {
    const { name } = conn;
    if (!name || this.#conns.get(name) !== conn) return;
    this.#conns.delete(name);
    for (const [id, reply] of this.#replies) {
      if (reply.host !== name) continue;
      this.#replies.delete(id);
      clearTimeout(reply.timer);
      reply.reject(hostOffline(name));
    }
    this.log.info(`Runner ${name} disconnected`);
    void this.db
      .mutate((tx) => {
        const record = tx.get('hosts', name);
        if (!record) return;
        const updated = { ...record, lastSeen: tx.now };
        tx.put('hosts', updated);
        tx.emit('host:offline', { ...this.view(updated), status: 'offline' });
      })
      .catch((error) => this.log.error(`Recording ${name} offline failed`, error));
  }

  /** §15.3 step 6, and the launches that waited for this host (step 2). */
  async #reconcile(
    name: string,
    reported: {
      sessionId: string;
      state: 'running' | 'exited';
      pid?: number;
      exitCode?: number | null;
      signal?: string | null;
      lastLine?: string;
    }[],
  ) {
    const byId = new Map(reported.map((r) => [r.sessionId, r]));
    for (const r of reported) {
      const session = this.db.get('sessions', r.sessionId);
      // An agent whose session was stopped or deleted while the runner was away is ended now.
      if ((!session || session.status === 'stopped') && r.state === 'running') this.#send(name, { type: 'stop', sessionId: r.sessionId });
    }
    for (const session of [...this.db.all('sessions')]) {
      if (session.host !== name || isFinal(session) || !session.run) continue;
      const r = byId.get(session.id);
      if (r?.state === 'running') {
        if (session.run.state !== 'running') await this.#started(name, session.id, r.pid);
      } else if (r?.state === 'exited') {
        await this.#exited(name, session.id, r.exitCode ?? null, r.signal ?? null, r.lastLine);
      } else if (session.run.state === 'pending') {
        await this.#launch(session);
      } else {
        await this.#update(session.id, (s, tx) => ({
          ...s,
          status: 'failed',
          completedAt: tx.now,
          run: { ...s.run!, state: 'lost', endedAt: tx.now },
          timeline: [...s.timeline, timeline(tx, 'error', `Agent process not found on ${name}`)],
        }));
      }
    }
  }

  /** Applies `change` to a session that still exists; emits `session:updated`. */
  #update(sessionId: string, change: (s: Session, tx: Tx) => Session | undefined) {
    return this.db.mutate((tx) => {
      const current = tx.get('sessions', sessionId);
      if (!current) return undefined;
      const next = change(current, tx);
      if (!next) return current;
      const updated = { ...next, lastActivity: tx.now };
      tx.put('sessions', updated);
      tx.emit('session:updated', updated);
      return updated;
    });
  }

  #started(name: string, sessionId: string, pid?: number) {
    return this.#update(sessionId, (s, tx) => {
      if (s.host !== name || isFinal(s)) return undefined;
      const run: SessionRun = { state: 'running', ...(pid !== undefined && { pid }), launchedAt: s.run?.launchedAt ?? tx.now };
      return {
        ...s,
        status: s.status === 'spawning' ? 'idle' : s.status,
        run,
        timeline: s.run?.state === 'running' ? s.timeline : [...s.timeline, timeline(tx, 'session_started', `Launched on ${name}`)],
      };
    });
  }

  #exited(name: string, sessionId: string, exitCode: number | null, signal: string | null, lastLine?: string) {
    return this.#update(sessionId, (s, tx) => {
      if (s.host !== name || !s.run || (s.run.state === 'exited' && s.run.endedAt !== undefined && s.run.exitCode !== undefined)) {
        return undefined;
      }
      const run: SessionRun = { ...s.run, state: 'exited', exitCode, signal, endedAt: s.run.endedAt ?? tx.now };
      if (isFinal(s)) return { ...s, run };
      const ok = exitCode === 0;
      const how = signal ? `was ended by ${signal}` : `exited with code ${exitCode}`;
      return {
        ...s,
        status: ok ? 'completed' : 'failed',
        completedAt: tx.now,
        run,
        timeline: [
          ...s.timeline,
          timeline(tx, ok ? 'session_stopped' : 'error', `Agent ${how}${lastLine ? `; last output: ${lastLine}` : ''}`),
        ],
      };
    });
  }

  #failed(name: string, sessionId: string, reason: string) {
    return this.#update(sessionId, (s, tx) => {
      if (s.host !== name || isFinal(s)) return undefined;
      return {
        ...s,
        status: 'failed',
        completedAt: tx.now,
        run: { state: 'exited', exitCode: null, signal: null, endedAt: tx.now, reason },
        timeline: [...s.timeline, timeline(tx, 'error', `Launch on ${name} failed: ${reason}`)],
      };
    });
  }

  // ── Launch and control ──────────────────────────────────────────────────────────────────────────────────────

  /** Remembers the spawn's token for the launch, then launches at once if the host is online (§15.3 steps 1–2). */
  async spawned(session: Session, token: string) {
    this.#launchTokens.set(session.id, token);
    if (session.host && this.isOnline(session.host)) await this.#launch(session);
  }

  async #launch(session: Session) {
    const host = session.host!;
    const current = this.db.get('sessions', session.id);
    if (!current || isFinal(current) || current.run?.state !== 'pending') return void this.#launchTokens.delete(session.id);
    // After a server restart the spawn's token is gone (only its hash was kept): the launch gets a fresh one.
    const token = this.#launchTokens.get(session.id) ?? (await this.db.mutate((tx) => this.tokens.mint(tx, session.id)));
    this.#launchTokens.delete(session.id);
    const project = this.db.get('projects', current.projectId);
    const role = current.metadata?.role === 'orchestrator' ? 'orchestrator' : 'worker';
    this.#send(host, {
      type: 'launch',
      sessionId: current.id,
      cwd: project?.workingDir ?? '',
      argv: ['maestro', role, 'init'],
      env: { ...current.env, MAESTRO_SESSION_TOKEN: token },
    });
  }

  #request<T>(host: string, message: ServerMessage & { id: number }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replies.delete(message.id);
        reject(new ApiError(503, 'HOST_OFFLINE', `Host ${host} did not answer`, { host }));
      }, REPLY_TIMEOUT_MS);
      timer.unref();
      this.#replies.set(message.id, { host, resolve, reject, timer });
      if (!this.#send(host, message)) {
        clearTimeout(timer);
        this.#replies.delete(message.id);
        reject(hostOffline(host));
      }
    });
  }

  /** The session a caller may control (§15.6): a session token reaches only its own session and those it spawned. */
  controllable(sessionId: string, caller: string | null): Session {
    const session = this.db.get('sessions', sessionId);
    if (!session) throw sessionNotFound(sessionId);
    if (caller !== null && caller !== session.id && session.metadata?.spawnedBy !== caller) {
      throw new ApiError(403, 'FORBIDDEN', 'A session may control only itself and the sessions it spawned', { sessionId });
    }
    return session;
  }

  /** `POST /api/sessions/:id/stop` (§15.4). */
  async stop(sessionId: string, reason: string | undefined, caller: string | null): Promise<Session> {
    this.controllable(sessionId, caller);
    const result = await this.db.mutate((tx) => {
      const s = tx.get('sessions', sessionId);
      if (!s) throw sessionNotFound(sessionId);
      if (isFinal(s)) return { session: s, host: undefined };
      const active = s.run && (s.run.state === 'running' || s.run.state === 'pending');
      const updated: Session = {
        ...s,
        status: 'stopped',
        completedAt: tx.now,
        lastActivity: tx.now,
        ...(active && { run: { ...s.run!, state: 'exited' as const, endedAt: tx.now, reason: 'Stopped' } }),
        timeline: [...s.timeline, timeline(tx, 'session_stopped', reason ?? 'Session stopped')],
      };
      tx.put('sessions', updated);
      tx.emit('session:updated', updated);
      return { session: updated, host: active && s.run!.state === 'running' ? s.host : undefined };
    });
    this.#launchTokens.delete(sessionId);
    if (result.host) this.#send(result.host, { type: 'stop', sessionId });
    return result.session;
  }

  #running(sessionId: string, caller: string | null, allowExited = false): Session & { host: string } {
    const s = this.controllable(sessionId, caller);
    const ok =
      s.host &&
      s.run &&
      (s.run.state === 'running' || (allowExited && s.run.state === 'exited' && s.status !== 'stopped' && !s.run.reason));
    if (!ok) throw notRunning(sessionId);
    if (!this.isOnline(s.host!)) throw hostOffline(s.host!);
    return s as Session & { host: string };
  }

  /** `POST /api/sessions/:id/input` (§15.4). */
  async input(sessionId: string, text: string, submit: boolean, caller: string | null) {
    const s = this.#running(sessionId, caller);
    await this.#request(s.host, { type: 'input', id: this.#nextId++, sessionId, text, submit }).catch((error) => {
      throw error instanceof ApiError ? error : new ApiError(409, 'SESSION_NOT_RUNNING', (error as Error).message, { sessionId });
    });
    return { success: true as const };
  }

  /** `GET /api/sessions/:id/terminal` (§15.4). */
  async snapshot(sessionId: string, lines: number, caller: string | null) {
    const s = this.#running(sessionId, caller, true);
    const reply = await this.#request<{ text: string; cols: number; rows: number; alive: boolean }>(s.host, {
      type: 'snapshot',
      id: this.#nextId++,
      sessionId,
      lines,
    }).catch((error) => {
      throw error instanceof ApiError ? error : new ApiError(409, 'SESSION_NOT_RUNNING', (error as Error).message, { sessionId });
    });
    return { sessionId, host: s.host, text: reply.text, cols: reply.cols, rows: reply.rows, alive: reply.alive };
  }

  /** Checks a live-terminal upgrade before it happens (errors become the HTTP answer). */
  viewerSocket(sessionId: string, caller: string | null): WSEvents {
    const s = this.#running(sessionId, caller, true);
    const viewer: Partial<Viewer> = { ready: false };
    const host = s.host;
    return {
      onOpen: (_e, ws) => {
        viewer.ws = ws;
        let set = this.#viewers.get(sessionId);
        if (!set) this.#viewers.set(sessionId, (set = new Set()));
        set.add(viewer as Viewer);
        this.#send(host, { type: 'watch', sessionId, on: true });
      },
      onMessage: (event) => {
        const data = typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer).toString('utf8');
        if (data.startsWith('{')) {
          try {
            const m = JSON.parse(data) as { type?: string; cols?: unknown; rows?: unknown };
            if (m.type === 'resize') {
              const [cols, rows] = [Number(m.cols), Number(m.rows)];
              if (Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0 && cols <= 1000 && rows <= 1000) {
                this.#send(host, { type: 'resize', sessionId, cols, rows });
              }
              return;
            }
          } catch {
            // not JSON: keys
          }
        }
        this.#send(host, { type: 'keys', sessionId, data });
      },
      onClose: () => this.#dropViewer(sessionId, viewer as Viewer, host),
      onError: () => this.#dropViewer(sessionId, viewer as Viewer, host),
    };
  }

  #dropViewer(sessionId: string, viewer: Viewer, host: string) {
    const set = this.#viewers.get(sessionId);
    if (!set?.delete(viewer)) return;
    if (set.size === 0) {
      this.#viewers.delete(sessionId);
      this.#send(host, { type: 'watch', sessionId, on: false });
    }
  }
}
