import { existsSync, type FSWatcher, statSync, watch } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { arch, hostname, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { availableAgents } from '../domain/agents.js';
import { LIB_DIR } from '../package-root.js';
import { decode, NAME_TAKEN, type RunnerMessage, ServerMessage } from '../runner-protocol.js';
import { type PaneState, Tmux, takeRunnerEnvironment, tmuxName } from './tmux.js';

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
  /** Called when the server refuses this runner for good (name taken). */
  onFatal?: (message: string) => void;
}

const MAX_BACKOFF_MS = 10_000;
const POLL_MS = 250;
const IDLE_POLL_MS = 2000;
const ENTER_DELAY_MS = 120;
const KILL_AFTER_MS = 5000;
const SILENCE_MS = 75_000;

/** The host name a runner uses by default (§15.1): the machine's, lower-cased, with characters outside the pattern as `-`. */
export const defaultHostName = () =>
  hostname()
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '-')
    .slice(0, 64) || 'host';

/** The `maestro` CLI of this package, so that launched commands do not depend on `PATH`. */
function maestroArgv(): string[] {
  const cli = join(LIB_DIR, 'cli/main.js');
  return existsSync(cli) ? [process.execPath, cli] : ['maestro'];
}

/**
 * `maestro host` (contract §15.2): connects out to the server, launches agents in detached tmux sessions, reports
 * their start and exit, and streams their terminals. Reconnects forever with capped backoff; agents outlive it.
 */
export class Runner {
  readonly tmux: Tmux;
  readonly #stateDir: string;
  #ws: WebSocket | undefined;
  #stopped = false;
  #backoff = 500;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  /** Sessions whose exit was already reported over the current connection. */
  #reported = new Set<string>();
  #deadSince = new Map<string, number>();
  #tails = new Map<string, { watcher: FSWatcher; offset: number; reading: boolean; again: boolean }>();
  #connected: (() => void) | undefined;
  readonly connected: Promise<void>;

  constructor(readonly options: RunnerOptions) {
    this.tmux = new Tmux(options.tmuxSocket ?? `maestro-${options.name}`);
    this.#stateDir = join(tmpdir(), `maestro-runner-${process.getuid?.() ?? 'u'}`, this.tmux.socket);
    if (this.#stateDir.includes("'")) throw new Error('The runner state directory must not contain a quote');
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
      const live = await this.#checkPanes().catch(() => true);
      if (!this.#stopped) this.#schedulePoll(live ? POLL_MS : IDLE_POLL_MS);
    }, ms);
    this.#poll.unref?.();
  }

  /** Disconnects; agents keep running (reconciled on the next connect). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#poll);
    for (const tail of this.#tails.values()) tail.watcher.close();
    this.#tails.clear();
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
      void this.#hello(ws).catch((error) => this.#log(`hello failed: ${(error as Error).message}`));
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
    ws.on('error', (error) => this.#log(`connection error: ${error.message}`));
    ws.on('unexpected-response', (_req, res) => {
      this.#log(`server refused the connection: HTTP ${res.statusCode}`);
      if (res.statusCode === 401 || res.statusCode === 403) this.#log('check MAESTRO_TOKEN / MAESTRO_HOST_TOKEN');
    });
    ws.on('close', (code, reason) => {
      this.#reported.clear();
      if (code === NAME_TAKEN) {
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

  #send(message: RunnerMessage) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  async #hello(ws: WebSocket) {
    const panes = await this.tmux.panes();
    const sessions = await Promise.all(
      panes.map(async (p) => ({
        sessionId: p.sessionId,
        state: p.statusKnown ? ('exited' as const) : ('running' as const),
        ...(p.pid !== undefined && { pid: p.pid }),
        ...(p.statusKnown && { exitCode: p.exitCode, signal: p.signal, lastLine: await this.#lastLine(p.sessionId) }),
      })),
    );
    for (const p of panes) if (p.statusKnown) this.#reported.add(p.sessionId);
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
          this.#connected?.();
          break;
        case 'launch':
          await this.#launch(message.sessionId, message.cwd, message.argv, message.env);
          break;
        case 'stop':
          await this.#stopSession(message.sessionId);
          break;
        case 'input': {
          const target = tmuxName(message.sessionId);
          const buffer = `maestro-in-${message.sessionId}`;
          try {
            await this.tmux.must(['load-buffer', '-b', buffer, '-'], message.text);
            await this.tmux.must(['paste-buffer', '-p', '-d', '-b', buffer, '-t', target]);
            if (message.submit) {
              await new Promise((resolve) => setTimeout(resolve, ENTER_DELAY_MS));
              await this.tmux.must(['send-keys', '-t', target, 'Enter']);
            }
            this.#send({ type: 'reply', id: message.id, ok: true });
          } catch (error) {
            this.#send({ type: 'reply', id: message.id, ok: false, error: (error as Error).message });
          }
          break;
        }
        case 'keys':
          await this.tmux.run(['send-keys', '-t', tmuxName(message.sessionId), '-l', '--', message.data]);
          break;
        case 'resize':
          await this.tmux.run(['resize-window', '-t', tmuxName(message.sessionId), '-x', String(message.cols), '-y', String(message.rows)]);
          break;
        case 'snapshot': {
          try {
            const target = tmuxName(message.sessionId);
            const text = await this.tmux.text(message.sessionId, message.lines);
            const [cols, rows, dead] = (
              await this.tmux.must(['display-message', '-p', '-t', target, '#{pane_width}\t#{pane_height}\t#{pane_dead}'])
            )
              .trim()
              .split('\t');
            this.#send({ type: 'reply', id: message.id, ok: true, text, cols: Number(cols), rows: Number(rows), alive: dead !== '1' });
          } catch (error) {
            this.#send({ type: 'reply', id: message.id, ok: false, error: (error as Error).message });
          }
          break;
        }
        case 'watch':
          if (message.on) await this.#watch(message.sessionId);
          else this.#unwatch(message.sessionId);
          break;
      }
    } catch (error) {
      this.#log(`${message.type} failed: ${(error as Error).message}`);
    }
  }

  #logFile = (sessionId: string) => join(this.#stateDir, `${sessionId}.log`);
  #exitFile = (sessionId: string) => join(this.#stateDir, `${sessionId}.exit`);

  /**
   * One detached tmux session per agent (§15.3): created around a placeholder so that `remain-on-exit` and the
   * output pipe are in place before the agent's first byte, then `respawn-pane` runs the agent as an argument vector
   * through `env`, which drops the secrets and sets the spawn's variables without any shell.
   */
  async #launch(sessionId: string, cwd: string, argv: string[], env: Record<string, string>) {
    const name = tmuxName(sessionId);
    if ((await this.tmux.run(['has-session', '-t', `=${name}`])).ok) return; // already launched (a repeated launch)
    const fail = (reason: string) => this.#send({ type: 'failed', sessionId, reason });
    if (!cwd || !existsSync(cwd) || !statSync(cwd).isDirectory()) return fail(`Working directory ${JSON.stringify(cwd)} does not exist`);
    const names = Object.keys(env);
    if (names.some((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))) return fail('Invalid environment variable name');
    const command = argv[0] === 'maestro' ? [...maestroArgv(), ...argv.slice(1)] : argv;
    try {
      await mkdir(this.#stateDir, { recursive: true, mode: 0o700 });
      await writeFile(this.#logFile(sessionId), '');
      const envArgs = [
        'env',
        '-u',
        'MAESTRO_TOKEN',
        '-u',
        'MAESTRO_HOST_TOKEN',
        ...names.map((k) => `${k}=${env[k]}`),
        `MAESTRO_EXIT_FILE=${this.#exitFile(sessionId)}`,
      ];
      // One tmux process for the six steps: a launch costs one process start, not six.
      const started = await this.tmux.chain([
        takeRunnerEnvironment(),
        ['new-session', '-d', '-s', name, '-c', cwd, '-x', '200', '-y', '50', 'sleep', '3600'],
        ['set-option', '-w', '-t', name, 'remain-on-exit', 'on'],
        ['pipe-pane', '-O', '-t', name, `exec cat >> '${this.#logFile(sessionId)}'`],
        ['respawn-pane', '-k', '-t', name, '-c', cwd, '--', ...envArgs, ...command],
        ['display-message', '-p', '-t', name, '#{pane_pid}'],
      ]);
      if (!started.ok) throw new Error(started.stderr || 'unknown error');
      const pid = Number(started.stdout.trim());
      this.#send({ type: 'started', sessionId, ...(pid > 0 && { pid }) });
      clearTimeout(this.#poll);
      this.#schedulePoll(POLL_MS);
    } catch (error) {
      await this.tmux.run(['kill-session', '-t', `=${name}`]);
      fail(`tmux could not start the agent: ${(error as Error).message}`);
    }
  }

  async #stopSession(sessionId: string) {
    const pane = (await this.tmux.panes()).find((p) => p.sessionId === sessionId);
    this.#unwatch(sessionId);
    this.#reported.add(sessionId);
    await this.tmux.run(['kill-session', '-t', `=${tmuxName(sessionId)}`]);
    if (pane && !pane.dead && pane.pid) {
      const pid = pane.pid;
      setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, KILL_AFTER_MS).unref();
    }
    await Promise.all([rm(this.#logFile(sessionId), { force: true }), rm(this.#exitFile(sessionId), { force: true })]);
    this.#send({ type: 'exited', sessionId, exitCode: pane?.dead ? pane.exitCode : null, signal: pane?.dead ? pane.signal : 'SIGHUP' });
  }

  async #lastLine(sessionId: string): Promise<string> {
    const text = await this.tmux.text(sessionId, 50).catch(() => '');
    return (
      text
        .split('\n')
        .filter((l) => l.trim())
        .at(-1)
        ?.trim()
        .slice(0, 500) ?? ''
    );
  }

  /** Reports each dead pane once per connection (exit code and signal from tmux's `remain-on-exit`). */
  async #checkPanes(): Promise<boolean> {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false;
    const panes: PaneState[] = await this.tmux.panes();
    const now = Date.now();
    for (const pane of panes) {
      if (!pane.dead || this.#reported.has(pane.sessionId)) continue;
      // tmux sometimes marks a pane dead without ever giving its exit status (the process left as a zombie): the
      // launcher also writes its exit code to a file, read then; past 2 s with neither, the exit has no code.
      if (!pane.statusKnown) {
        const code = Number.parseInt(await readFile(this.#exitFile(pane.sessionId), 'utf8').catch(() => ''), 10);
        if (Number.isInteger(code)) {
          pane.exitCode = code;
        } else {
          const since = this.#deadSince.get(pane.sessionId) ?? now;
          this.#deadSince.set(pane.sessionId, since);
          if (now - since < 2000) continue;
          this.#log(`${pane.sessionId}: the pane closed and tmux has no exit status for process ${pane.pid}`);
        }
      }
      this.#deadSince.delete(pane.sessionId);
      this.#reported.add(pane.sessionId);
      await this.#drain(pane.sessionId);
      this.#send({
        type: 'exited',
        sessionId: pane.sessionId,
        exitCode: pane.exitCode,
        signal: pane.signal,
        lastLine: await this.#lastLine(pane.sessionId),
      });
    }
    return panes.some((p) => !p.dead || !this.#reported.has(p.sessionId));
  }

  /** Screen first, then every byte tmux's pipe-pane appends to the session's log, as the file grows (inotify). */
  async #watch(sessionId: string) {
    const file = this.#logFile(sessionId);
    const offset = (await stat(file).catch(() => undefined))?.size ?? 0;
    const screen = await this.tmux.run(['capture-pane', '-p', '-e', '-t', tmuxName(sessionId)]);
    const rows = screen.stdout.replace(/\n$/, '').split('\n');
    const data = Buffer.from(`\x1b[H\x1b[2J${rows.join('\r\n')}`);
    this.#send({ type: 'output', sessionId, data: data.toString('base64'), screen: true });
    if (this.#tails.has(sessionId) || !existsSync(file)) return;
    const tail = { watcher: watch(file, () => void this.#drain(sessionId)), offset, reading: false, again: false };
    this.#tails.set(sessionId, tail);
    void this.#drain(sessionId);
  }

  #unwatch(sessionId: string) {
    this.#tails.get(sessionId)?.watcher.close();
    this.#tails.delete(sessionId);
  }

  async #drain(sessionId: string) {
    const tail = this.#tails.get(sessionId);
    if (!tail) return;
    if (tail.reading) return void (tail.again = true);
    tail.reading = true;
    try {
      do {
        tail.again = false;
        const handle = await open(this.#logFile(sessionId), 'r');
        try {
          const buffer = Buffer.alloc(64 * 1024);
          for (;;) {
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, tail.offset);
            if (bytesRead === 0) break;
            tail.offset += bytesRead;
            this.#send({ type: 'output', sessionId, data: buffer.subarray(0, bytesRead).toString('base64') });
          }
        } finally {
          await handle.close();
        }
      } while (tail.again);
    } catch {
      // the log went away (stopped session)
    } finally {
      tail.reading = false;
    }
  }
}
