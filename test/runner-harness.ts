// Real runners for tests: `maestro host` processes on tmux sockets of this test run only, and waiting for their state.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { which } from '../lib/domain/agents.js';
import {
  type Call,
  CLI_BIN,
  callAt,
  onFileEnd,
  ROOT,
  registeredLogs,
  type ServerProcess,
  showOnTimeout,
  startServerProcess,
  tempDir,
  testEnv,
  until,
} from './helpers.js';

export const FAKE_AGENT = join(ROOT, 'test/fixtures/fake-agent.mjs');
const RUN = `mb${process.pid}`;

export interface RunnerProcess {
  proc: ChildProcess;
  socket: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGTERM, as a person's Ctrl-C: resolves once the runner has exited. Its tmux server (and agents) stay. */
  stop(): Promise<void>;
}

/**
 * Kills this run's tmux server on `socket` (never any other), waits (up to 5 s) for the processes of its panes to end
 * (a shell writes its history as it ends: into a home a test is about to remove), and removes its socket file (a
 * killed tmux server leaves it) and the runners' state directory for that socket (kept across a runner's restarts).
 */
export async function killTmuxServer(socket: string) {
  const panes = tmuxOut(socket, ['list-panes', '-a', '-F', '#{pane_pid}']).split('\n').filter(Boolean).map(Number);
  try {
    execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // that server was not running
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 100 && panes.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.()}`, socket), { force: true });
  // The runners this run starts inherit its TMPDIR (lib/runner/agent-sessions.ts).
  rmSync(join(tmpdir(), `maestro-runner-${process.getuid?.() ?? 'u'}`, socket), { recursive: true, force: true });
}

/** `tmux -L <socket> <args>` of this run's own socket, its output as text ('' when tmux fails). */
export function tmuxOut(socket: string, args: string[]): string {
  try {
    return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

/**
 * `maestro host --name <name>` against `url`, on this run's own tmux socket for that name, running the fake agent
 * (`env` overrides); killed, with its tmux server, after the test file. Its log is in the message of a timed-out `until`.
 */
export function startRunner(url: string, name: string, env: Record<string, string> = {}): RunnerProcess {
  const socket = `${RUN}-${name}`;
  const proc = spawn(process.execPath, [CLI_BIN, 'host', '--name', name, '--server', url], {
    env: {
      ...process.env,
      MAESTRO_TMUX_SOCKET: socket,
      MAESTRO_AGENT_COMMAND: `${process.execPath} ${FAKE_AGENT} {promptFile}`,
      MAESTRO_TOKEN: '',
      ...env,
    },
    stdio: 'pipe',
  });
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  onFileEnd(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await killTmuxServer(socket);
  });
  showOnTimeout(`runner ${name}`, () => out);
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  return { proc, socket, output: () => out, exited, stop };
}

/** Waits until the runner `name` is online, and resolves with its host. */
export const online = (call: Call, name: string) => until(call, `/api/hosts/${name}`, (h) => h?.status === 'online');
/** The text of a session's terminal (an ended agent's last screen); anything but a 200 fails with the answer. */
export async function screenOf(call: Call, sessionId: string, lines = 400): Promise<string> {
  const answer = await call('GET', `/api/sessions/${sessionId}/terminal?lines=${lines}`);
  if (answer.status !== 200)
    throw new Error(`GET …/terminal of ${sessionId}: ${answer.status} ${JSON.stringify(answer.body)}${registeredLogs()}`);
  return answer.body.text;
}

export const isFinal = (s: any) => ['completed', 'failed', 'stopped'].includes(s?.status);
export const SLOW = { timeout: 120_000 };

/** This PATH without any directory that has a `maestro`: agents and shells find one only where a test puts it. */
export const PATH_WITHOUT_MAESTRO = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir && !which(join(dir, 'maestro')))
  .join(delimiter);
/** bash, where installed: the shell agent's and the person's shell. */
export const BASH = ['/bin/bash', '/usr/bin/bash'].find((path) => which(path));

/**
 * `maestro serve` as a person starts it: the compiled server with its local runner on this run's tmux socket `socket`
 * (killed after the test file), a fresh home with no shell start-up files (a plain prompt), and no `maestro` on PATH.
 */
export async function startServe(socket: string, env: Record<string, string> = {}): Promise<ServerProcess & { call: Call; home: string }> {
  const home = tempDir('maestro-home-');
  onFileEnd(() => killTmuxServer(socket));
  const server = await startServerProcess(
    testEnv({
      MAESTRO_LOCAL_RUNNER: '1',
      MAESTRO_TMUX_SOCKET: socket,
      HOME: home,
      SHELL: BASH ?? '/bin/sh',
      PATH: PATH_WITHOUT_MAESTRO,
      LOG_LEVEL: 'info',
      ...env,
    }),
  );
  showOnTimeout('server', server.output);
  return { ...server, home, call: callAt(server.url) };
}
