// Real runners for boundary tests: `maestro host` processes on tmux sockets of this test run only, and polling.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Call, CLI_BIN, onFileEnd, ROOT } from './helpers.js';

export const FAKE_AGENT = join(ROOT, 'test/fixtures/fake-agent.mjs');
const RUN = `mb${process.pid}`;

export interface RunnerProcess {
  proc: ChildProcess;
  socket: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Kills this run's tmux server on `socket` (never any other) and removes its socket file. */
export function killTmuxServer(socket: string) {
  try {
    execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // that server was not running
  }
  rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.()}`, socket), { force: true });
}

/** `tmux -L <socket> <args>` of this run's own socket, its output as text ('' when tmux fails). */
export function tmuxOut(socket: string, args: string[]): string {
  try {
    return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

/** `maestro host --name <name>` against `url`, on its own tmux socket; killed after the test file. */
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
    if (proc.exitCode === null) proc.kill('SIGKILL');
    killTmuxServer(socket);
  });
  return { proc, socket, output: () => out, exited };
}

/** Polls GET `path` until `predicate` holds (real processes: there is no clock to inject). */
export async function until(call: Call, path: string, predicate: (body: any) => boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last: any;
  while (Date.now() < deadline) {
    last = (await call('GET', path)).body;
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 40));
  }
  throw new Error(`timed out waiting on ${path}; last answer: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

export const online = (call: Call, name: string) => until(call, `/api/hosts/${name}`, (h) => h?.status === 'online');
export const isFinal = (s: any) => ['completed', 'failed', 'stopped'].includes(s?.status);
export const SLOW = { timeout: 120_000 };
