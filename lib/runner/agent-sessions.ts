// A runner's agents in tmux: launch, stop, typed input, snapshots, and each exit reported once per connection.
import { existsSync, statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as v from 'valibot';
import { which } from '../domain/agents.js';
import type { RunnerSession } from '../runner-protocol.js';
import { NOTICE_BUSY } from '../runner-protocol.js';
import { DEFAULT_IDLE_MS, TerminalAttention, waitingPrompts } from './attention.js';
import { ensureMaestroShim, maestroCliPath, pathWith } from './maestro-shim.js';
import { deliverNotice } from './notice.js';
import { ensurePrivateDir } from './private-dir.js';
import { type Send, TerminalStreams } from './terminal-stream.js';
import { cleanEnv, formatLiteral, type PaneState, type Tmux, takeRunnerEnvironment, tmuxName } from './tmux.js';

const ENTER_DELAY_MS = 120;
/** The most a snapshot asks for (§15.4): what an ended agent's last screen keeps. */
const MAX_SNAPSHOT_LINES = 5000;
/** Ended agents whose last screen is kept in memory. */
const MAX_FINISHED = 50;

interface Finished {
  text: string;
  cols: number;
  rows: number;
  exitCode: number | null;
  signal: string | null;
  lastLine: string;
}
const KILL_AFTER_MS = 5000;

/** Signals a process group (`-pgid`); a group already gone is fine. */
function signalGroup(group: number, signal: NodeJS.Signals) {
  try {
    process.kill(group, signal);
  } catch {
    // already gone
  }
}

/** The `maestro` CLI of this package, so that launched commands do not depend on `PATH`. */
export function maestroArgv(): string[] {
  const cli = maestroCliPath();
  return cli ? [process.execPath, cli] : ['maestro'];
}

export class AgentSessions {
  readonly #stateDir: string;
  /** Sessions whose exit was already reported over the current connection. */
  readonly #reported = new Set<string>();
  readonly #deadSince = new Map<string, number>();
  /** Agents seen running whose end is not known yet: their tmux session vanishing is an end too. */
  readonly #live = new Set<string>();
  /** Agents that ended and whose tmux session was removed: their last screen and exit, for snapshots and hellos. */
  readonly #finished = new Map<string, Finished>();
  readonly streams: TerminalStreams;
  readonly attention: TerminalAttention;

  constructor(
    private readonly tmux: Tmux,
    private readonly send: Send,
    private readonly log: (message: string) => void,
    idleMs = DEFAULT_IDLE_MS,
  ) {
    this.#stateDir = join(tmpdir(), `maestro-runner-${process.getuid?.() ?? 'u'}`, tmux.socket);
    if (this.#stateDir.includes("'")) throw new Error('The runner state directory must not contain a quote');
    this.streams = new TerminalStreams(tmux, this.#logFile, send);
    this.attention = new TerminalAttention(tmux, this.#logFile, send, idleMs, log);
  }

  /** The waiting prompts of the preset the launcher will pick (§15.5: the spawn's, else the runner's default). */
  #prompts(env: Record<string, string | undefined>) {
    const preset = env.MAESTRO_AGENT || process.env.MAESTRO_AGENT || (which('claude') ? 'claude' : 'shell');
    return waitingPrompts(preset, env.MAESTRO_AGENT_WAITING || process.env.MAESTRO_AGENT_WAITING, this.log);
  }

  /**
   * The preset variables an agent was launched with, from its tmux session's environment (where the launch put the
   * spawn's variables): after a restart, this runner's own default may not be the agent's preset.
   */
  async #launchedWith(sessionId: string): Promise<Record<string, string>> {
    const shown = await this.tmux.run(['show-environment', '-t', `=${tmuxName(sessionId)}`]);
    const env: Record<string, string> = {};
    for (const line of shown.ok ? shown.stdout.split('\n') : []) {
      const [key, ...value] = line.split('=');
      if (key === 'MAESTRO_AGENT' || key === 'MAESTRO_AGENT_WAITING') env[key] = value.join('=');
    }
    return env;
  }

  #logFile = (sessionId: string) => join(this.#stateDir, `${sessionId}.log`);
  #exitFile = (sessionId: string) => join(this.#stateDir, `${sessionId}.exit`);

  /**
   * A new connection: every exit is reported again (the server may have missed it). The terminals streamed over the
   * old one stop: a viewer that closed meanwhile could not say so, and the server asks again for those still watched.
   */
  disconnected() {
    this.#reported.clear();
    this.attention.forgetReported();
    this.streams.close();
  }

  /**
   * The sessions for the hello (§15.2); their exits count as reported. Throws when tmux does not answer: a hello
   * listing no agents would have the server take every one of them for lost.
   */
  async list(): Promise<v.InferOutput<typeof RunnerSession>[]> {
    const panes = await this.tmux.panes(true);
    // A dead pane whose exit tmux did not record: the launcher's exit file has it (as for the poll, below).
    for (const p of panes) if (p.dead && !p.statusKnown) await this.#exitFromFile(p);
    const sessions = await Promise.all(
      panes.map(async (p) => ({
        sessionId: p.sessionId,
        state: p.statusKnown ? ('exited' as const) : ('running' as const),
        ...(p.pid !== undefined && { pid: p.pid }),
        ...(p.statusKnown && { exitCode: p.exitCode, signal: p.signal, lastLine: await this.#lastLine(p.sessionId) }),
      })),
    );
    for (const p of panes) if (p.statusKnown) this.#reported.add(p.sessionId);
    for (const p of panes) if (!p.statusKnown) this.#live.add(p.sessionId);
    // Agents that outlived a runner restart are followed again, with the preset they were launched with.
    for (const p of panes) if (!p.dead) this.attention.track(p.sessionId, this.#prompts(await this.#launchedWith(p.sessionId)));
    for (const [sessionId, f] of this.#finished) {
      if (panes.some((p) => p.sessionId === sessionId)) continue;
      sessions.push({ sessionId, state: 'exited', exitCode: f.exitCode, signal: f.signal, lastLine: f.lastLine });
    }
    // Agents that ended while no server listened: their exit is in this hello, so their tmux session (which holds the
    // session token) and files go as for any ended agent; their last screen and exit stay in memory for the next hello.
    for (const s of sessions) {
      const pane = panes.find((p) => p.statusKnown && p.sessionId === s.sessionId);
      if (pane) await this.#clearAway(pane, s.lastLine ?? '');
    }
    return sessions;
  }

  /**
   * One detached tmux session per agent (§15.3): created around a placeholder so that `remain-on-exit` and the
   * output pipe are in place before the agent's first byte, then `respawn-pane` runs the agent as an argument vector
   * through `env`, which drops the secrets and sets the spawn's variables without any shell. True when it started.
   */
  async launch(sessionId: string, cwd: string, argv: string[], env: Record<string, string>): Promise<boolean> {
    const name = tmuxName(sessionId);
    if ((await this.tmux.run(['has-session', '-t', `=${name}`])).ok) return false; // already launched (a repeated launch)
    const fail = (reason: string) => void this.send({ type: 'failed', sessionId, reason });
    if (!cwd || !existsSync(cwd) || !statSync(cwd).isDirectory()) {
      fail(`Working directory ${JSON.stringify(cwd)} does not exist`);
      return false;
    }
    const names = Object.keys(env);
    if (names.some((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))) {
      fail('Invalid environment variable name');
      return false;
    }
    const command = argv[0] === 'maestro' ? [...maestroArgv(), ...argv.slice(1)] : argv;
    try {
      ensurePrivateDir(this.#stateDir);
      await writeFile(this.#logFile(sessionId), '', { mode: 0o600 });
      // The spawn's variables (its session token among them) reach the pane through the environment of the tmux
      // client that creates the session, never its command line: nothing in `ps` or `#{pane_start_command}`.
      // §24.6: the prompt tells the agent to run `maestro`; this package's CLI comes first on its PATH.
      const bin = await ensureMaestroShim(this.#stateDir, this.log).catch((error) => {
        this.log(`could not write the maestro shim: ${(error as Error).message}`);
        return undefined;
      });
      const path = bin ? pathWith(bin, env.PATH ?? process.env.PATH) : undefined;
      const spawnEnv = { ...env, ...(path && { PATH: path }), MAESTRO_EXIT_FILE: this.#exitFile(sessionId) };
      const envArgs = ['env', '-u', 'MAESTRO_TOKEN', '-u', 'MAESTRO_HOST_TOKEN'];
      const runnerVars = new Set(Object.keys(cleanEnv()));
      // A tmux server started by this very command keeps its client's variables as its global environment: the
      // spawn's own ones are dropped from there, so they live in this session's environment only.
      const unsetGlobal = Object.keys(spawnEnv)
        .filter((k) => !runnerVars.has(k))
        .map((k) => ['set-environment', '-g', '-u', k]);
      // One tmux process for every step: a launch costs one process start, not six.
      const started = await this.tmux.chain(
        [
          takeRunnerEnvironment(Object.keys(spawnEnv)),
          ['new-session', '-d', '-s', name, '-c', formatLiteral(cwd), '-x', '200', '-y', '50', 'sleep', '3600'],
          ['set-option', '-w', '-t', name, 'remain-on-exit', 'on'],
          ['pipe-pane', '-O', '-t', name, formatLiteral(`exec cat >> '${this.#logFile(sessionId)}'`)],
          ['respawn-pane', '-k', '-t', name, '-c', formatLiteral(cwd), '--', ...envArgs, ...command],
          ['display-message', '-p', '-t', name, '#{pane_pid}'],
          ...unsetGlobal,
        ],
        spawnEnv,
      );
      if (!started.ok) throw new Error(started.stderr || 'unknown error');
      const pid = Number(started.stdout.trim());
      this.#live.add(sessionId);
      this.send({ type: 'started', sessionId, ...(pid > 0 && { pid }) });
      this.attention.track(sessionId, this.#prompts(env));
      return true;
    } catch (error) {
      await this.tmux.run(['kill-session', '-t', `=${name}`]);
      fail(`tmux could not start the agent: ${(error as Error).message}`);
      return false;
    }
  }

  async stop(sessionId: string) {
    this.#finished.delete(sessionId);
    this.#live.delete(sessionId);
    const pane = (await this.tmux.panes()).find((p) => p.sessionId === sessionId);
    this.streams.unwatch(sessionId);
    this.attention.untrack(sessionId);
    this.#reported.add(sessionId);
    await this.tmux.run(['kill-session', '-t', `=${tmuxName(sessionId)}`]);
    // tmux's hangup reaches only the pane's foreground processes, and killing the pane's PID alone leaves the
    // agent's children running (and may hit a reused PID): the pane process leads its own process group (tmux makes
    // it a session leader), so the whole group is asked to end, then killed if any of it is still there.
    if (pane && !pane.dead && pane.pid) {
      const group = -pane.pid;
      signalGroup(group, 'SIGTERM');
      setTimeout(() => signalGroup(group, 'SIGKILL'), KILL_AFTER_MS).unref();
    }
    await Promise.all([rm(this.#logFile(sessionId), { force: true }), rm(this.#exitFile(sessionId), { force: true })]);
    this.send({ type: 'exited', sessionId, exitCode: pane?.dead ? pane.exitCode : null, signal: pane?.dead ? pane.signal : 'SIGHUP' });
  }

  /** Types `text` as a bracketed paste, then Enter a little later when `submit`; answers the request `id`. */
  async input(id: number, sessionId: string, text: string, submit: boolean) {
    try {
      await this.#type(sessionId, text, submit);
      this.send({ type: 'reply', id, ok: true });
    } catch (error) {
      this.send({ type: 'reply', id, ok: false, error: (error as Error).message });
    }
  }

  async #type(sessionId: string, text: string, submit: boolean) {
    const target = tmuxName(sessionId);
    const buffer = `maestro-in-${sessionId}`;
    await this.tmux.must(['load-buffer', '-b', buffer, '-'], text);
    await this.tmux.must(['paste-buffer', '-p', '-d', '-b', buffer, '-t', target]);
    if (submit) {
      await new Promise((resolve) => setTimeout(resolve, ENTER_DELAY_MS));
      await this.tmux.must(['send-keys', '-t', target, 'Enter']);
    }
  }

  /** The wake-up notice (§24.8): printed, typed into a quiet terminal, or `busy`; answers the request `id`. */
  async notice(id: number, notice: { sessionId: string; text: string; print: boolean; quietMs: number }) {
    try {
      const outcome = await deliverNotice(this.tmux, this.#logFile(notice.sessionId), notice, (text) =>
        this.#type(notice.sessionId, text, true),
      );
      this.send(outcome === 'busy' ? { type: 'reply', id, ok: false, error: NOTICE_BUSY } : { type: 'reply', id, ok: true });
    } catch (error) {
      this.send({ type: 'reply', id, ok: false, error: (error as Error).message });
    }
  }

  /** The last `lines` of the session's terminal and its size; answers the request `id`. */
  async snapshot(id: number, sessionId: string, lines: number) {
    const fromMemory = () => {
      const finished = this.#finished.get(sessionId);
      if (!finished) return false;
      const text = finished.text.split('\n').slice(-lines).join('\n');
      this.send({ type: 'reply', id, ok: true, text, cols: finished.cols, rows: finished.rows, alive: false });
      return true;
    };
    if (fromMemory()) return;
    try {
      const target = tmuxName(sessionId);
      const text = await this.tmux.text(sessionId, lines);
      const [cols, rows, dead] = (
        await this.tmux.must(['display-message', '-p', '-t', target, '#{pane_width}\t#{pane_height}\t#{pane_dead}'])
      )
        .trim()
        .split('\t')
        .map((field, i) => (i < 2 ? Number.parseInt(field, 10) : field));
      // A session torn down between the two reads answers with empty fields: its last screen is in memory then.
      if (!Number.isInteger(cols) || !Number.isInteger(rows)) throw new Error(`The terminal of ${sessionId} is gone`);
      this.send({ type: 'reply', id, ok: true, text, cols: cols as number, rows: rows as number, alive: dead !== '1' });
    } catch (error) {
      // The agent's tmux session may have been cleared away while this read it: its last screen is in memory then.
      if (!fromMemory()) this.send({ type: 'reply', id, ok: false, error: (error as Error).message });
    }
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

  /**
   * Once an agent's exit and last output are recorded, its tmux session (whose environment holds the session token)
   * and its files go; the last screen stays in memory so `GET …/terminal` still shows how it ended (issue 21 item 8).
   */
  async #clearAway(pane: PaneState, lastLine: string) {
    const { sessionId } = pane;
    const target = tmuxName(sessionId);
    const text = await this.tmux.text(sessionId, MAX_SNAPSHOT_LINES).catch(() => '');
    const size = await this.tmux.run(['display-message', '-p', '-t', target, '#{pane_width}\t#{pane_height}']);
    const [cols, rows] = size.stdout.trim().split('\t').map(Number);
    this.#finished.set(sessionId, { text, cols: cols || 200, rows: rows || 50, exitCode: pane.exitCode, signal: pane.signal, lastLine });
    while (this.#finished.size > MAX_FINISHED) this.#finished.delete(this.#finished.keys().next().value!);
    this.streams.unwatch(sessionId);
    // The files go first, so that once the tmux session is gone nothing of the agent is left (its pipe's `cat` has
    // long had the log open, and keeps writing to the unlinked file until the kill).
    await Promise.all([rm(this.#logFile(sessionId), { force: true }), rm(this.#exitFile(sessionId), { force: true })]);
    await this.tmux.run(['kill-session', '-t', `=${target}`]);
  }

  /** The exit code the launcher wrote for a dead pane tmux has none for: true (and the pane has it) when there is one. */
  async #exitFromFile(pane: PaneState): Promise<boolean> {
    const code = Number.parseInt(await readFile(this.#exitFile(pane.sessionId), 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(code)) return false;
    pane.exitCode = code;
    pane.statusKnown = true;
    return true;
  }

  /** Reports each dead pane once per connection (exit code and signal from tmux's `remain-on-exit`). True while some live. */
  async checkPanes(): Promise<boolean> {
    // Only agents known before the listing: one launched while tmux answers is not missing from it.
    const known = [...this.#live];
    const panes: PaneState[] = await this.tmux.panes(true);
    const now = Date.now();
    for (const sessionId of known) this.streams.trim(sessionId, now);
    for (const sessionId of known) {
      // Its tmux session was killed from outside (or the whole tmux server): nothing is left to say how it ended.
      if (!this.#live.has(sessionId) || panes.some((p) => p.sessionId === sessionId)) continue;
      this.#live.delete(sessionId);
      this.attention.untrack(sessionId);
      this.streams.unwatch(sessionId);
      this.send({ type: 'lost', sessionId });
    }
    for (const pane of panes) {
      if (!pane.dead || this.#reported.has(pane.sessionId)) continue;
      // tmux sometimes marks a pane dead without ever giving its exit status (the process left as a zombie): the
      // launcher also writes its exit code to a file, read then; past 2 s with neither, the exit has no code.
      if (!pane.statusKnown && !(await this.#exitFromFile(pane))) {
        const since = this.#deadSince.get(pane.sessionId) ?? now;
        this.#deadSince.set(pane.sessionId, since);
        if (now - since < 2000) continue;
        this.log(`${pane.sessionId}: the pane closed and tmux has no exit status for process ${pane.pid}`);
      }
      this.#deadSince.delete(pane.sessionId);
      this.#reported.add(pane.sessionId);
      this.#live.delete(pane.sessionId);
      this.attention.untrack(pane.sessionId);
      await this.streams.drain(pane.sessionId);
      const lastLine = await this.#lastLine(pane.sessionId);
      // Cleared away first, as for a hello: once the server hears of the exit, the session's tmux session (which holds
      // its token) and files are gone.
      await this.#clearAway(pane, lastLine);
      this.send({ type: 'exited', sessionId: pane.sessionId, exitCode: pane.exitCode, signal: pane.signal, lastLine });
    }
    return panes.some((p) => !p.dead || !this.#reported.has(p.sessionId));
  }
}
