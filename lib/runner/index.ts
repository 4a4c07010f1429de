// The runner process (`maestro host`, contract §15.2): its connection to the server and the dispatch of what it is sent.
import { arch, hostname, platform } from 'node:os';
import WebSocket from 'ws';
import { availableAgents } from '../domain/agents.js';
import { BAD_NAME, decode, MAX_RUNNER_FRAME_BYTES, NAME_TAKEN, type RunnerMessage, ServerMessage, WRONG_HOST } from '../runner-protocol.js';
import { refusal } from '../ws-refusal.js';
import { AgentSessions } from './agent-sessions.js';
import { KeyBatcher } from './key-batcher.js';
import { Tmux, tmuxName } from './tmux.js';
import { RunnerWorkspaces } from './workspaces.js';

export interface RunnerOptions {
  /** `http(s)://…` of the server; the runner connects to `ws(s)://…/api/hosts/connect`. */
  serverUrl: string;
  token?: string;
  name: string;
  /** tmux server socket name (`tmux -L`); default `maestro-<name>`. */
  tmuxSocket?: string;
  /** Set by the server for its embedded runner (§15.2 `local: true`). */
  localKey?: string;
  version: string;
  log?: (message: string) => void;
  /** Terminal quiet time before `idle` (§21, `MAESTRO_IDLE_MS`). */
  idleMs?: number;
  /** Where worktrees go (§20.2); default `MAESTRO_WORKTREES_DIR`, else `~/.maestro/worktrees`. */
  worktreesDir?: string;
  /** Called when the server refuses this runner for good (name taken). */
  onFatal?: (message: string) => void;
}

const MAX_BACKOFF_MS = 10_000;
const POLL_MS = 250;
const IDLE_POLL_MS = 2000;
const SILENCE_MS = 75_000;

/** The host name a runner uses by default (§15.1): the machine's, lower-cased, with characters outside the pattern as `-`. */
export const defaultHostName = () =>
  hostname()
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '-')
    .slice(0, 64) || 'host';

/**
 * `maestro host` (contract §15.2): connects out to the server, launches agents in detached tmux sessions, reports
 * their start and exit, and streams their terminals. Reconnects forever with capped backoff; agents outlive it.
 */
export class Runner {
  readonly tmux: Tmux;
  readonly #keys = new KeyBatcher((sessionId, data) => this.tmux.run(['send-keys', '-t', tmuxName(sessionId), '-l', '--', data]));
  /** Sessions whose launch is under way (between the check for their tmux session and its creation). */
  readonly #launching = new Set<string>();
  readonly agents: AgentSessions;
  readonly workspaces: RunnerWorkspaces;
  #ws: WebSocket | undefined;
  #stopped = false;
  #backoff = 500;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #connected: (() => void) | undefined;
  readonly connected: Promise<void>;

  constructor(readonly options: RunnerOptions) {
    this.tmux = new Tmux(options.tmuxSocket ?? `maestro-${options.name}`);
    this.workspaces = new RunnerWorkspaces(options.worktreesDir);
    this.agents = new AgentSessions(
      this.tmux,
      (message) => this.#send(this.workspaces.outgoing(message)),
      (message) => this.#log(message),
      options.idleMs,
    );
    this.connected = new Promise((resolve) => (this.#connected = resolve));
  }

  #log(message: string) {
    this.options.log?.(message);
  }

  start(): void {
    this.#connect();
    this.#schedulePoll(POLL_MS);
  }

  /** Looks for exited agents every 250 ms while some run, every 2 s otherwise (a tmux call each time). */
  #schedulePoll(ms: number) {
    this.#poll = setTimeout(async () => {
      const live = this.#ws?.readyState === WebSocket.OPEN ? await this.agents.checkPanes().catch(() => true) : false;
      if (!this.#stopped) this.#schedulePoll(live ? POLL_MS : IDLE_POLL_MS);
    }, ms);
    this.#poll.unref?.();
  }

  /** Disconnects; agents keep running (reconciled on the next connect). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#poll);
    this.agents.streams.close();
    this.agents.attention.close();
    const ws = this.#ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000, 'Runner stopping');
        setTimeout(resolve, 1000).unref();
      });
    }
  }

  #connect() {
    if (this.#stopped) return;
    const url = `${this.options.serverUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}/api/hosts/connect`;
    const ws = new WebSocket(url, { headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {} });
    this.#ws = ws;
    ws.on('open', () => {
      this.#log(`connected to ${url}; saying hello`);
      void this.#hello(ws).catch((error) => {
        // Said again on a new connection (after the backoff) rather than not at all or with a wrong list of agents.
        this.#log(`hello failed: ${(error as Error).message}`);
        ws.terminate();
      });
    });
    ws.on('message', (data) => void this.#receive(String(data)));
    // The server pings every 30 s: a server that went away without closing the connection is noticed too.
    let silence: NodeJS.Timeout | undefined;
    const alive = () => {
      clearTimeout(silence);
      silence = setTimeout(() => ws.terminate(), SILENCE_MS);
      silence.unref?.();
    };
    ws.on('open', alive);
    ws.on('ping', alive);
    ws.on('close', () => clearTimeout(silence));
    let refused = false;
    ws.on('error', (error) => refused || this.#log(`connection error: ${error.message}`));
    // A refused upgrade (a token, or a proxy's 502 while the server restarts) is tried again after the backoff like a
    // dropped connection: with this listener, ws leaves the socket connecting for good unless it is ended here.
    ws.on('unexpected-response', (_req, res) => {
      void refusal(res).then((r) => {
        this.#log(`server refused the connection: HTTP ${r.status} ${r.code}: ${r.message}`);
        if (r.status === 401 || r.status === 403) this.#log('check MAESTRO_TOKEN / MAESTRO_HOST_TOKEN');
        refused = true;
        ws.terminate();
      });
    });
    ws.on('close', (code, reason) => {
      this.agents.disconnected();
      if (code === NAME_TAKEN || code === WRONG_HOST || code === BAD_NAME) {
        this.#stopped = true;
        this.options.onFatal?.(String(reason) || `Another runner is already connected as "${this.options.name}"`);
        return;
      }
      if (this.#stopped) return;
      this.#log(`disconnected (${code}); reconnecting in ${this.#backoff} ms`);
      this.#timer = setTimeout(() => this.#connect(), this.#backoff);
      this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
    });
  }

  #send(message: RunnerMessage): boolean {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false;
    let frame = JSON.stringify(message);
    // The server closes a connection that sends more: an answer that large fails its one request instead. (Only
    // answers are measured: terminal output, the frequent frames, is sent in small pieces.)
    const bytes = message.type === 'reply' ? Buffer.byteLength(frame) : 0;
    if (message.type === 'reply' && bytes > MAX_RUNNER_FRAME_BYTES) {
      frame = JSON.stringify({ type: 'reply', id: message.id, ok: false, error: `The answer is too large to send (${bytes} bytes)` });
    }
    this.#ws.send(frame);
    return true;
  }

  async #hello(ws: WebSocket) {
    const sessions = await this.agents.list();
    if (ws !== this.#ws) return;
    this.#send({
      type: 'hello',
      name: this.options.name,
      hostname: hostname(),
      platform: platform(),
      arch: arch(),
      version: this.options.version,
      agents: availableAgents(),
      ...(this.options.localKey && { localKey: this.options.localKey }),
      sessions,
    });
  }

  async #receive(frame: string) {
    const message = decode(ServerMessage, frame);
    if (!message) return;
    try {
      switch (message.type) {
        case 'welcome':
          this.#backoff = 500;
          this.#log(`connected as ${message.name}`);
          this.agents.attention.resendMissed();
          this.#connected?.();
          break;
        case 'launch': {
          // A repeated launch of a running agent, or of one still starting (two instances may both send it), must not
          // make a second worktree.
          const { sessionId } = message;
          if (this.#launching.has(sessionId)) break;
          this.#launching.add(sessionId);
          try {
            if ((await this.tmux.run(['has-session', '-t', `=${tmuxName(sessionId)}`])).ok) break;
            const launch = await this.workspaces.prepare(message, (m) => this.#send(m));
            if (launch && (await this.agents.launch(launch.sessionId, launch.cwd, launch.argv, launch.env))) {
              clearTimeout(this.#poll);
              this.#schedulePoll(POLL_MS);
            }
          } finally {
            this.#launching.delete(sessionId);
          }
          break;
        }
        case 'git':
          this.#send(await this.workspaces.request(message));
          break;
        case 'stop':
          await this.agents.stop(message.sessionId);
          break;
        case 'input':
          await this.agents.input(message.id, message.sessionId, message.text, message.submit);
          break;
        case 'notice':
          await this.agents.notice(message.id, message);
          break;
        case 'keys':
          this.#keys.add(message.sessionId, message.data);
          break;
        case 'resize':
          await this.tmux.run(['resize-window', '-t', tmuxName(message.sessionId), '-x', String(message.cols), '-y', String(message.rows)]);
          break;
        case 'snapshot':
          await this.agents.snapshot(message.id, message.sessionId, message.lines);
          break;
        case 'watch':
          if (message.on) await this.agents.streams.watch(message.sessionId);
          else this.agents.streams.unwatch(message.sessionId);
          break;
      }
    } catch (error) {
      this.#log(`${message.type} failed: ${(error as Error).message}`);
    }
  }
}
