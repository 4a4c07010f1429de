import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import WebSocket from 'ws';
import { type Config, parseConfig } from '../lib/config.js';
import { createApp } from '../lib/http/app.js';
import { type RunningServer, startServer } from '../lib/http/server.js';
import { createLogger } from '../lib/log.js';
import { createServices } from '../lib/services.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const SERVER_BIN = join(ROOT, 'dist/lib/server.js');
export const CLI_BIN = join(ROOT, 'dist/lib/cli/main.js');

/*
 * Cleanups run once after the test file. vitest drops an afterAll registered inside a test or hook without a
 * word, so helpers called from tests register here instead; this module is evaluated once per test file.
 */
const cleanups: (() => unknown)[] = [];
export const onFileEnd = (cleanup: () => unknown) => void cleanups.push(cleanup);
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh temporary directory, removed after the test file. */
export function tempDir(prefix = 'maestro-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Retries: a shell that tmux is ending may still write its history into a home directory being removed.
  onFileEnd(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

/** Environment for a server whose every directory is a fresh temporary one. */
export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  const base = tempDir();
  return {
    PORT: '0',
    DATA_DIR: join(base, 'data'),
    SESSION_DIR: join(base, 'sessions'),
    SKILLS_DIR: join(base, 'skills'),
    LOG_LEVEL: 'error',
    NODE_ENV: 'test',
    // No embedded runner unless a test asks for one: it would start tmux sessions.
    MAESTRO_LOCAL_RUNNER: '0',
    ...extra,
  };
}

export const testConfig = (extra: Record<string, string> = {}): Config => parseConfig(testEnv(extra));

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A JSON client: `call('POST', '/api/projects', { name })`; a string body is sent as is. */
export type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer>;

const toAnswer = async (res: Response): Promise<Answer> => {
  const text = await res.text();
  // A page (`/api/docs`) is the one answer that is not JSON: its text is the body.
  const json = res.headers.get('content-type')?.includes('json') !== false;
  return { status: res.status, body: text ? (json ? JSON.parse(text) : text) : undefined, headers: res.headers };
};
const init = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json', ...headers },
  body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
});

/**
 * The engine matrix (§22): a test file run again on PostgreSQL sets a factory of fresh stores (test/postgres.ts)
 * before importing the file's tests; every server those tests start then keeps its data there instead of DATA_DIR.
 */
let freshStore: (() => Promise<string>) | undefined;
export const useDatabase = (fresh: () => Promise<string>) => void (freshStore = fresh);
/** Whether this file's servers run on PostgreSQL: tests that read DATA_DIR's files are the file engine's only. */
export const onDatabase = () => freshStore !== undefined;
/** DATA_DIR → the database store that stands for it: a test that restarts a server on its DATA_DIR gets its store. */
const stores = new Map<string, string>();
async function withStore(extra: Record<string, string>): Promise<Record<string, string>> {
  if (!freshStore || 'DATABASE_URL' in extra) return extra;
  const url = (extra.DATA_DIR && stores.get(extra.DATA_DIR)) || (await freshStore());
  return { DATABASE_URL: url, ...extra };
}
const remember = (config: Config) => void (config.databaseUrl && stores.set(config.dataDir, config.databaseUrl));

/** A JSON client over an app in this process (no socket); `ok` also requires a 2xx and gives the body. */
export function appClient(app: { request(path: string, init: RequestInit): Response | Promise<Response> }) {
  const call: Call = async (method, path, body, headers) => toAnswer(await app.request(path, init(method, body, headers)));
  const ok = async (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<any> => {
    const res = await call(method, path, body, headers);
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  return { call, ok };
}

/** Every event line of a data directory's log, oldest first, parsed (what the file engine wrote, §17). */
export const loggedEvents = (dataDir: string): any[] =>
  readdirSync(join(dataDir, 'events'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dataDir, 'events', f), 'utf8')
        .split('\n')
        .filter(Boolean),
    )
    .map((line) => JSON.parse(line));

/**
 * About 40 MiB of `task:updated` events, far more than the kernel's socket buffers hold: 45 PATCHes of a 900 KB
 * description to one new task, each answered 200. `created` runs once the task exists, before the first PATCH.
 */
export async function floodEvents(call: Call, created: () => void): Promise<void> {
  const project = (await call('POST', '/api/projects', { name: 'Big' })).body;
  const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Big' })).body;
  created();
  for (let i = 0; i < 45; i++) {
    const res = await call('PATCH', `/api/tasks/${task.id}`, { description: `${i}`.padEnd(900_000, 'x') });
    if (res.status !== 200) throw new Error(`PATCH ${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
}

/** The app in-process (no socket): fast, for most route tests. */
export async function inProcess(extra: Record<string, string> = {}) {
  const config = testConfig(await withStore(extra));
  remember(config);
  const services = await createServices(config, createLogger('error'));
  const { app, routes } = await createApp(services);
  const { call } = appClient(app);
  /** Stops the services and releases the data directory, as a server's shutdown does (§22.1: one server per directory). */
  const close = async () => {
    for (const stop of services.onClose) await stop();
  };
  return { app, routes, services, config, call, close };
}

export interface TestServer extends RunningServer {
  call: Call;
  config: Config;
  /** Opens a WebSocket to the server and records what it receives. */
  listen(path?: string): Promise<Listener>;
}

/** A real server on 127.0.0.1 and a free port, stopped after the test file. */
export async function startTestServer(extra: Record<string, string> = {}): Promise<TestServer> {
  const config = testConfig(await withStore(extra));
  remember(config);
  const server = await startServer(config, createLogger('error'));
  onFileEnd(() => server.close());
  return { ...server, config, call: callAt(server.url), listen: (path = '/ws') => listen(server.url.replace(/^http/, 'ws') + path) };
}

/** A JSON client of the server at `url` (a server process's, say). */
export const callAt =
  (url: string): Call =>
  async (method, path, body, headers) =>
    toAnswer(await fetch(url + path, init(method, body, headers)));

export interface Listener {
  ws: WebSocket;
  /** Every message received so far, parsed. */
  messages: any[];
  /** Broadcast events only (no pongs). */
  events(): any[];
  /** Resolves when `count` events have arrived (after `clear()`), or rejects after `ms`. */
  waitFor(count: number, ms?: number): Promise<any[]>;
  clear(): void;
  close(): void;
  /**
   * Every event broadcast so far, then forgets them. The server sends a mutation's events before its HTTP answer and
   * a pong travels the same socket after them, so once the pong is here nothing from earlier requests is on its way.
   */
  drain(): Promise<any[]>;
}

export function listen(url: string, options: WebSocket.ClientOptions = {}): Promise<Listener> {
  const ws = new WebSocket(url, options);
  const messages: any[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    waiters.forEach((w) => w());
  });
  const events = () => messages.filter((m) => m.type !== 'pong');
  const listener: Listener = {
    ws,
    messages,
    events,
    clear: () => void messages.splice(0),
    close: () => ws.close(),
    drain: async () => {
      await new Promise<void>((resolvePong) => {
        const onMessage = (data: unknown) => {
          if (JSON.parse(String(data)).type !== 'pong') return;
          ws.off('message', onMessage);
          resolvePong();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ type: 'ping' }));
      });
      return messages.splice(0).filter((m) => m.type !== 'pong');
    },
    waitFor: (count, ms = 3000) =>
      new Promise((resolveWait, reject) => {
        const check = () => {
          if (events().length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolveWait(events());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `expected ${count} events, got ${events().length}: ${events()
                .map((e) => e.type)
                .join(', ')}`,
            ),
          );
        }, ms);
        waiters.add(check);
        check();
      }),
  };
  onFileEnd(() => ws.terminate());
  return new Promise((resolveOpen, reject) => {
    ws.once('open', () => resolveOpen(listener));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { statusCode: res.statusCode })),
    );
  });
}

/*
 * Logs worth reading when a wait times out (the runners' and servers' a test started), this file's only: a timeout
 * that says only "timed out" sends the reader to run the test again.
 */
const logsForTimeouts: [string, () => string][] = [];
/** Adds `output` (a process's log so far) to the message of every `until` of this file that times out. */
export const showOnTimeout = (name: string, output: () => string) => void logsForTimeouts.push([name, output]);

/** The logs registered with showOnTimeout, for the message of a failed wait. */
export const registeredLogs = () => logsForTimeouts.map(([name, output]) => `\n--- ${name}:\n${output().slice(-4000)}`).join('');

export interface UntilOptions {
  /** Give up after this long (real processes on a loaded machine: generous, but never unbounded). */
  ms?: number;
  /** Headers of each GET (a token, a session's identity). */
  headers?: Record<string, string>;
}

/**
 * Polls GET `path` until `predicate` holds for its body, and resolves with that body. For state that real processes
 * (runners, tmux, agents) change, where there is no clock to inject nor an event to wait on. Rejects after `ms` with
 * the last answer and the logs registered with showOnTimeout.
 */
export async function until(call: Call, path: string, predicate: (body: any) => boolean, options: UntilOptions = {}): Promise<any> {
  const { ms = 30_000, headers } = options;
  const deadline = Date.now() + ms;
  let last: Answer | undefined;
  for (;;) {
    last = await call('GET', path, undefined, headers);
    if (predicate(last.body)) return last.body;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 40));
  }
  throw new Error(
    `GET ${path}: still not as expected after ${ms} ms; last answer ${last.status}: ${JSON.stringify(last.body)?.slice(0, 3000)}${registeredLogs()}`,
  );
}

/** Waits until `ms` pass with no new event: for asserting that nothing more arrives. */
export const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts the bundled server (`dist/lib/server.js`, or `bin`) as its own process and waits for its URL. */
export function startServerProcess(env: Record<string, string>, bin = SERVER_BIN): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [bin], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: 'pipe' });
  onFileEnd(() => void (proc.exitCode === null && proc.kill('SIGKILL')));
  return untilListening(proc, 'server');
}

/**
 * Resolves once a server process logs its URL (it must log at `info`); rejects if it exits first, or after `ms`
 * (so a server that never says where it listens fails the test instead of hanging it).
 */
export function untilListening(proc: ChildProcess, what: string, ms = 30_000): Promise<ServerProcess> {
  let out = '';
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not log "listening on" within ${ms} ms:\n${out}`)), ms);
    const onData = (chunk: Buffer) => {
      out += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) return;
      clearTimeout(timer);
      resolveStart({ proc, url, output: () => out, exited });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before listening:\n${out}`));
    });
  });
}

/**
 * A loopback URL where nothing listens: port 2 (unused; below the range the system hands out for port 0, and not one
 * of the ports fetch refuses, as it does port 1). A port found free a moment ago can be taken meanwhile by any server
 * that listens on port 0 (this run's or another's on the same machine), and then the "dead" URL answers.
 */
export const unusedLoopbackUrl = async (): Promise<string> => 'http://127.0.0.1:2';

/** A loopback URL with a port that was free a moment ago, for a process that cannot listen on port 0 (nginx). */
export const freeLoopbackUrl = (): Promise<string> =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `maestro <args>` in-process: the code the bin runs, with exactly `env` as its environment, and its output as a
 * process's is read (by execa, by a shell's $(…)): without the final newline. A few hundred ms cheaper than a process
 * per command; the tests that prove the compiled bin itself works spawn it (CLI_BIN).
 */
export async function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const { run } = await import('../lib/cli/program.js');
  let [stdout, stderr] = ['', ''];
  const code = await run(args, { env, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, '') };
}

/** This process's environment without anything Maestro reads: the CLI under test must not see the suite's own. */
export const cliBaseEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('MAESTRO_') && !['DATA_DIR', 'SESSION_DIR', 'SKILLS_DIR', 'SERVER_URL'].includes(k),
    ),
  ) as Record<string, string>;

/** Runs the compiled server until it exits by itself (bounded, killed after `ms`), with everything it printed. */
export function runToExit(env: Record<string, string>, ms = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [SERVER_BIN], { env: { ...process.env, ...env }, stdio: 'pipe' });
  onFileEnd(() => void (proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL')));
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c) => (stdout += c));
  proc.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolveExit, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server still running after ${ms} ms:\n${stderr}`));
    }, ms);
    // 'close', not 'exit': by then everything the process printed has been read.
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolveExit({ code, stdout, stderr });
    });
  });
}
