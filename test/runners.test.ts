import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Call, CLI_BIN, ROOT, startTestServer, tempDir, type TestServer } from './helpers.js';

/*
 * Runners (contract §15) end to end: a real server, `maestro host` processes, real tmux on sockets of this test run
 * only (`tmux -L`), and a fake agent chosen with the `custom` preset. Nothing here touches any other tmux server.
 */

const RUN = `mt${process.pid}`;
const FAKE_AGENT = join(ROOT, 'test/fixtures/fake-agent.mjs');
const sockets = new Set<string>();
afterAll(() => {
  for (const socket of sockets) {
    try {
      execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // that server was not running
    }
  }
});

interface RunnerProcess {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** `maestro host --name <name>` against `server`, on this test run's own tmux socket for that name. */
function startRunner(server: { url: string }, name: string, env: Record<string, string> = {}): RunnerProcess {
  const socket = `${RUN}-${name}`;
  sockets.add(socket);
  const proc = spawn(process.execPath, [CLI_BIN, 'host', '--name', name, '--server', server.url], {
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
  const runner: RunnerProcess = {
    proc,
    output: () => out,
    exited,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  runners.push(runner);
  return runner;
}
const runners: RunnerProcess[] = [];
afterAll(async () => {
  for (const r of runners) if (r.proc.exitCode === null) r.proc.kill('SIGKILL');
});

/** Polls until `predicate` holds for the answer of GET `path` (real processes: there is no clock to inject). */
async function until(call: Call, path: string, predicate: (body: any) => boolean, ms = 10_000, headers?: Record<string, string>) {
  const deadline = Date.now() + ms;
  let last: any;
  while (Date.now() < deadline) {
    last = (await call('GET', path, undefined, headers)).body;
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 40));
  }
  throw new Error(`timed out waiting on ${path}; last answer: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

async function online(call: Call, name: string, headers?: Record<string, string>) {
  return until(call, `/api/hosts/${name}`, (h) => h?.status === 'online', 10_000, headers);
}

async function setup(server: TestServer, headers: Record<string, string> = {}) {
  const dir = tempDir();
  const workingDir = join(dir, 'work');
  mkdirSync(workingDir);
  const project = (await server.call('POST', '/api/projects', { name: 'Runner project', workingDir }, headers)).body;
  const spawnTask = async (title: string, extra: Record<string, unknown> = {}) => {
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title }, headers)).body;
    const res = await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom', ...extra }, headers);
    return res;
  };
  return { project, workingDir, spawnTask };
}

const sessionPath = (id: string) => `/api/sessions/${id}`;
const final = (s: any) => ['completed', 'failed', 'stopped'].includes(s?.status);

describe('a runner launches agents in tmux and reports their lives', async () => {
  const server = await startTestServer();
  const { call } = server;
  const runner = startRunner(server, 'alpha');
  await online(call, 'alpha');
  const { spawnTask, workingDir } = await setup(server);

  it('lists the host online with its agents; spawn → running → exit 0 → completed', async () => {
    const host = (await call('GET', '/api/hosts')).body.find((h: any) => h.name === 'alpha');
    expect(host).toMatchObject({ name: 'alpha', status: 'online', local: false, agents: expect.arrayContaining(['shell', 'custom']) });

    const res = await spawnTask('Say hello', { host: 'alpha' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ host: 'alpha', agent: 'custom', session: { host: 'alpha', agent: 'custom', run: { state: 'pending' } } });
    expect(res.body.envVars.MAESTRO_SESSION_TOKEN).toMatch(/^mst_/);
    expect(res.body.session.env.MAESTRO_SESSION_TOKEN).toBeUndefined();

    const done = await until(call, sessionPath(res.body.sessionId), final);
    expect(done.status).toBe('completed');
    expect(done.run).toMatchObject({ state: 'exited', exitCode: 0, signal: null });
    expect(done.run.pid).toBeGreaterThan(0);
    expect(done.timeline.map((t: any) => t.message)).toEqual(expect.arrayContaining(['Launched on alpha']));
    expect(done.timeline.at(-1).message).toContain('all done');

    const terminal = await call('GET', `${sessionPath(res.body.sessionId)}/terminal`);
    expect(terminal.status).toBe(200);
    expect(terminal.body).toMatchObject({ host: 'alpha', alive: false });
    expect(terminal.body.text).toContain('admin token: absent');
    expect(terminal.body.text).toContain('api: 200 working');
  });

  it('exit 7 → failed, with the code and the last line in the timeline', async () => {
    const res = await spawnTask('MODE:exit7', { host: 'alpha' });
    const done = await until(call, sessionPath(res.body.sessionId), final);
    expect(done.status).toBe('failed');
    expect(done.run).toMatchObject({ state: 'exited', exitCode: 7 });
    expect(done.timeline.at(-1)).toMatchObject({ type: 'error' });
    expect(done.timeline.at(-1).message).toContain('exited with code 7');
    expect(done.timeline.at(-1).message).toContain('failing now');
  });

  it('input reaches the agent, the live terminal streams it, stop ends it', async () => {
    const res = await spawnTask('MODE:echo', { host: 'alpha' });
    const id = res.body.sessionId;
    await until(call, `${sessionPath(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes('READY'));

    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}${sessionPath(id)}/terminal`);
    let received = '';
    ws.on('message', (data) => (received += String(data)));
    await new Promise((r) => ws.once('open', r));
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 5000;
      while (!received.includes(text)) {
        if (Date.now() > deadline) throw new Error(`terminal never showed ${text}; got ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await waitFor('READY'); // the current screen first

    const input = await call('POST', `${sessionPath(id)}/input`, { text: 'hello there' });
    expect(input.status).toBe(200);
    expect(input.body).toEqual({ success: true });
    await waitFor('ECHO:hello there'); // live output
    ws.send('typed live\r');
    await waitFor('ECHO:typed live');
    ws.close();

    const stopped = await call('POST', `${sessionPath(id)}/stop`, { reason: 'enough' });
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ status: 'stopped', run: { state: 'exited' } });
    expect(stopped.body.timeline.at(-1)).toMatchObject({ type: 'session_stopped', message: 'enough' });
    expect((await call('POST', `${sessionPath(id)}/input`, { text: 'x' })).status).toBe(409);
    expect((await call('GET', `${sessionPath(id)}/terminal`)).status).toBe(409);
    const again = await call('POST', `${sessionPath(id)}/stop`, {});
    expect(again.body.completedAt).toBe(stopped.body.completedAt);
  });

  it('a missing working directory fails the launch with a reason', async () => {
    const project = (await call('POST', '/api/projects', { name: 'Gone', workingDir: join(workingDir, 'missing') })).body;
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'x' })).body;
    const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], host: 'alpha', agent: 'custom' });
    const done = await until(call, sessionPath(res.body.sessionId), final);
    expect(done.status).toBe('failed');
    expect(done.run.state).toBe('exited');
    expect(done.run.reason).toContain('does not exist');
    expect(done.timeline.at(-1).type).toBe('error');
  });

  it('a second runner with the same name is refused and exits 1', async () => {
    const twin = startRunner(server, 'alpha');
    expect(await twin.exited).toBe(1);
    expect(twin.output()).toContain('already connected as "alpha"');
    expect((await call('GET', '/api/hosts/alpha')).body.status).toBe('online');
    expect(runner.proc.exitCode).toBeNull();
  });
});
