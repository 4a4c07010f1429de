// The server's side of the runners (contract §15): hosts, and launch/stop/input/terminal routed to their runners.
import { randomBytes } from 'node:crypto';
import type { WSEvents } from 'hono/ws';
import type { AttentionStore } from '../domain/stores/attention.js';
import { bounded } from '../domain/stores/session-history.js';
import type { TokenStore } from '../domain/tokens.js';
import type { Host, HostRecord, Session } from '../domain/types.js';
import { ApiError, sessionNotFound, validationError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOTICE_BUSY } from '../runner-protocol.js';
import type { Db } from '../storage/db.js';
import { type Hello, hostOffline, RunnerHub, type RunnerReport } from './hub.js';
import { isFinal, SessionRuns, timeline } from './session-runs.js';
import { TerminalViewers } from './terminal-viewers.js';
import { Workspaces } from './workspaces.js';

export const MAX_INPUT_BYTES = 64 * 1024;

export const hostNotFound = (name: string) => new ApiError(404, 'HOST_NOT_FOUND', 'Host not found', { host: name });
const notRunning = (sessionId: string) =>
  new ApiError(409, 'SESSION_NOT_RUNNING', 'The session has no running terminal on a runner', { sessionId });
/** A runner's failure to do a request, as the answer to the caller. */
const notDone = (sessionId: string) => (error: unknown) => {
  throw error instanceof ApiError ? error : new ApiError(409, 'SESSION_NOT_RUNNING', (error as Error).message, { sessionId });
};

/**
 * The server's side of the runners: the hosts they stand for, what they report (through the hub), launches (sent at
 * once or when the host next connects), and the control of running agents.
 */
export class HostManager {
  /** Proves that a runner is the one inside this server process (`local: true`). */
  readonly localKey = randomBytes(16).toString('hex');
  /** The embedded runner's name, when `maestro serve` started one: the default host of spawns. */
  localName: string | undefined;
  readonly #hub: RunnerHub;
  readonly #runs: SessionRuns;
  readonly #viewers: TerminalViewers;
  /** Diff, merge and removal of sessions' worktrees (§20), done by their runners. */
  readonly workspaces: Workspaces;

  constructor(
    private readonly db: Db,
    private readonly tokens: TokenStore,
    private readonly log: Logger,
    /** Attention (§21): terminal reports and input move it; absent in tests of the runner alone. */
    private readonly attention?: AttentionStore,
  ) {
    this.#hub = new RunnerHub(
      {
        hello: (name, hello) => this.#hello(name, hello),
        report: (name, message) => this.#report(name, message),
        disconnected: (name) => this.#disconnected(name),
        arrived: (name) => this.#arrived(name),
      },
      log,
      db.engine.runners,
    );
    this.#runs = new SessionRuns(db, tokens, this.#hub);
    this.#viewers = new TerminalViewers(this.#hub, (sessionId) => void this.#typed(sessionId));
    this.workspaces = new Workspaces(db, this.#hub, log, (id, caller) => this.controllable(id, caller));
  }

  isOnline = (name: string) => this.#hub.isOnline(name);

  /** Whether the runner of the session's agent is connected to this instance (and not to another, §22.2). */
  runsHere = (sessionId: string): boolean => {
    const host = this.db.get('sessions', sessionId)?.host;
    return typeof host === 'string' && this.#hub.isHere(host);
  };

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
    this.#hub.close();
  }

  /** Handlers of one runner WebSocket (`/api/hosts/connect`); `only`: the host a runner token is for. */
  runnerSocket = (only?: string): WSEvents => this.#hub.socket(only);

  /** `POST /api/hosts/:name/token`: a runner token that may connect as `name` only, replacing its earlier one. */
  async mintRunnerToken(name: string) {
    const token = await this.db.mutate((tx) => this.tokens.mintRunner(tx, name));
    return { host: name, token };
  }

  async #hello(name: string, hello: Hello) {
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
    this.#hub.send(name, { type: 'welcome', name });
    this.log.info(`Runner ${name} connected${local ? ' (local)' : ''}`);
    await this.#runs.reconcile(name, hello.sessions);
    this.#watchAgain(name, true);
  }

  /**
   * A runner connected to another instance: what waited here for it goes there now. A spawn here that found it
   * offline (this instance had not heard yet) is launched, and the terminals watched here are asked for again (the
   * instance it left may have been the one passing their output on).
   */
  #arrived(name: string) {
    this.#runs.launchWaiting(name).catch((error) => this.log.warn(`Launching on ${name} failed: ${error.message}`));
    this.#watchAgain(name);
  }

  /**
   * Asks the runner of `name` to stream again every terminal of its agents that someone here is watching; with
   * `relayed` (it connected here), also those watched from other instances through this one. A runner stops its
   * streams when its connection drops.
   */
  #watchAgain(name: string, relayed = false) {
    const watched = relayed ? [...this.#viewers.watched(), ...this.#hub.remotelyWatched()] : this.#viewers.watched();
    for (const sessionId of new Set(watched)) {
      if (this.db.get('sessions', sessionId)?.host !== name) continue;
      this.#viewers.rescreen(sessionId);
      this.#hub.send(name, { type: 'watch', sessionId, on: true });
    }
  }

  #typed(sessionId: string) {
    return this.attention
      ?.signal(sessionId, { source: 'input', state: 'working' })
      .catch((error) => this.log.error('Attention failed', error));
  }

  #report(name: string, message: RunnerReport) {
    // A runner speaks for its own host's sessions only (the session runs check the same for their reports).
    if (message.type === 'output') {
      if (this.db.get('sessions', message.sessionId)?.host === name) this.#viewers.output(message);
      return;
    }
    if (message.type === 'attention') {
      // Only the session's own runner speaks for its terminal.
      if (this.db.get('sessions', message.sessionId)?.host !== name) return undefined;
      return this.attention?.signal(message.sessionId, { source: 'terminal', state: message.state, reason: message.reason ?? null });
    }
    if (message.type === 'workspace') return this.workspaces.reported(name, message.sessionId, message.workspace);
    return this.#runs.report(name, message);
  }

  #disconnected(name: string) {
    this.log.info(`Runner ${name} disconnected`);
    // Runners drop as the server stops: a host is offline whenever its runner is not connected, so nothing to record.
    if (this.db.closed) return;
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

  // ── Launch and control ──────────────────────────────────────────────────────────────────────────────────────

  /** Spawns whose launch waits for their host (for tests). */
  waitingLaunches = () => this.#runs.waitingLaunches();

  /** Remembers the spawn's token for the launch, then launches at once if the host is online (§15.3 steps 1–2). */
  spawned = (session: Session, token: string) => this.#runs.spawned(session, token);

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
      const active = s.run && (s.run.state === 'running' || s.run.state === 'pending');
      if (isFinal(s)) {
        // Marked ended by a PATCH (`maestro session complete`) while its agent still runs: the status stays, the agent
        // is ended all the same (else nothing could end it, and merge and workspace removal would wait for good).
        if (!active) return { session: s, host: undefined };
        const ended: Session = { ...s, lastActivity: tx.now, run: { ...s.run!, state: 'exited', endedAt: tx.now, reason: 'Stopped' } };
        tx.put('sessions', ended);
        tx.emit('session:updated', ended);
        return { session: ended, host: s.run!.state === 'running' ? s.host : undefined };
      }
      const updated: Session = bounded(tx, {
        ...s,
        status: 'stopped',
        completedAt: tx.now,
        lastActivity: tx.now,
        ...(active && { run: { ...s.run!, state: 'exited' as const, endedAt: tx.now, reason: 'Stopped' } }),
        timeline: [...s.timeline, timeline(tx, 'session_stopped', reason ?? 'Session stopped')],
      });
      tx.put('sessions', updated);
      tx.emit('session:updated', updated);
      return { session: updated, host: active && s.run!.state === 'running' ? s.host : undefined };
    });
    if (result.host) this.#hub.send(result.host, { type: 'stop', sessionId });
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
    // Before the runner types it: the echo of the typing reaches the server as terminal output before the reply.
    await this.#typed(sessionId);
    await this.#hub.request(s.host, { type: 'input', sessionId, text, submit }).catch(notDone(sessionId));
    return { success: true as const };
  }

  /**
   * The wake-up notice (§24.8) through the session's runner: printed on the screen (`print`), else typed once its
   * terminal was quiet for `quietMs`. True when done, false when the agent was busy; throws when it does not run.
   */
  async notice(sessionId: string, text: string, print: boolean, quietMs: number): Promise<boolean> {
    const s = this.#running(sessionId, null);
    try {
      await this.#hub.request(s.host, { type: 'notice', sessionId, text, print, quietMs });
      return true;
    } catch (error) {
      if ((error as Error).message === NOTICE_BUSY) return false;
      throw error;
    }
  }

  /** `GET /api/sessions/:id/terminal` (§15.4). */
  async snapshot(sessionId: string, lines: number, caller: string | null) {
    const s = this.#running(sessionId, caller, true);
    const reply = await this.#hub
      .request<{ text: string; cols: number; rows: number; alive: boolean }>(s.host, { type: 'snapshot', sessionId, lines })
      .catch(notDone(sessionId));
    return { sessionId, host: s.host, text: reply.text, cols: reply.cols, rows: reply.rows, alive: reply.alive };
  }

  /** Checks a live-terminal upgrade before it happens (errors become the HTTP answer). */
  viewerSocket(sessionId: string, caller: string | null, readOnly = false): WSEvents {
    const s = this.#running(sessionId, caller, true);
    return this.#viewers.socket(sessionId, s.host, readOnly);
  }
}
