// The CLI tells a newcomer what to do: the flag to pass, the true state of what it did, the way out of a dead end.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { run } from '../lib/cli/program.js';
import { cliBaseEnv, startTestServer, unusedLoopbackUrl } from './helpers.js';

const server = await startTestServer();
const { call } = server;

async function maestro(args: string[], env: Record<string, string> = {}) {
  let [stdout, stderr] = ['', ''];
  const code = await run(args, {
    env: { ...cliBaseEnv(), MAESTRO_API_URL: server.url, ...env },
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, '') };
}

async function api(method: string, path: string, body?: unknown) {
  const res = await call(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

const project = await api('POST', '/api/projects', { name: 'Guidance', workingDir: '/tmp' });
const newTask = (title: string) => api('POST', '/api/tasks', { projectId: project.id, title });

describe('the CLI names the way forward', () => {
  it('task next --claim without a session names --session-id', async () => {
    await newTask('Ready work');
    const r = await maestro(['task', 'next', '--claim', '--project-id', project.id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('maestro: No session ID given: pass --session-id, or run inside a spawned session terminal');
  });

  it('inbox --mark-read lists the messages as read, as they now are', async () => {
    const session = await api('POST', '/api/sessions', { projectId: project.id, taskIds: [] });
    const sent = await api('POST', `/api/sessions/${session.id}/messages`, { message: 'Rebase on main', metadata: { priority: 'low' } });
    const r = await maestro(['inbox', '--mark-read'], { MAESTRO_SESSION_ID: session.id });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${sent.id}  from user to ${session.id}  \\[read\\]`));
    expect(r.stdout).not.toContain('[delivered]');
    expect((await api('GET', `/api/messages/${sent.id}`)).status).toBe('read');
  });

  it('attach without a terminal says what to do instead of tmux\'s "not a terminal"', async () => {
    // The test process has no terminal, as a script or a pipe would not.
    expect(process.stdin.isTTY).toBeFalsy();
    const r = await maestro(['attach', 'sess_anything']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('maestro attach needs an interactive terminal');
    expect(r.stderr).toContain('/api/sessions/sess_anything/terminal');
    expect(r.stderr).not.toContain('open terminal failed');
  });

  it('session stop stops a session, as the merge refusal "stop it first" asks', async () => {
    const session = await api('POST', '/api/sessions', { projectId: project.id, taskIds: [] });
    const r = await maestro(['session', 'stop', session.id, '--reason', 'Ready to merge']);
    expect(r).toMatchObject({ code: 0, stdout: `Session ${session.id} is stopped`, stderr: '' });
    const stopped = await api('GET', `/api/sessions/${session.id}`);
    expect(stopped.status).toBe('stopped');
    expect(stopped.timeline.at(-1)).toMatchObject({ type: 'session_stopped', message: 'Ready to merge' });

    const ended = await api('POST', '/api/sessions', { projectId: project.id, taskIds: [] });
    await api('PATCH', `/api/sessions/${ended.id}`, { status: 'completed' });
    const again = await maestro(['session', 'stop', ended.id]);
    expect(again).toMatchObject({ code: 0, stdout: `Session ${ended.id} had already ended: completed` });
    const unknown = await maestro(['session', 'stop', 'sess_unknown']);
    expect(unknown).toMatchObject({ code: 2, stderr: 'maestro: Session not found' });
  });

  it('watch against a server that is down says so at once instead of sitting silent, and keeps retrying', async () => {
    const dead = await unusedLoopbackUrl();
    const stop = new AbortController();
    let [stdout, stderr] = ['', ''];
    let told!: () => void;
    const warned = new Promise<void>((resolve) => (told = resolve));
    const running = run(['watch'], {
      env: { ...cliBaseEnv(), MAESTRO_API_URL: dead },
      stdout: (t) => void (stdout += t),
      stderr: (t) => {
        stderr += t;
        told();
      },
      signal: stop.signal,
    });
    await warned;
    stop.abort();
    expect(await running).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `maestro: cannot reach Maestro Server at ${dead} (ECONNREFUSED); retrying until it answers (Ctrl-C stops). Start it with: maestro serve\n`,
    );
  });

  it("report's help names the task it defaults to as it is chosen: the first of $MAESTRO_TASK_IDS, not all, not the session's", async () => {
    const [first, second] = [await newTask('First'), await newTask('Second')];
    const session = await api('POST', '/api/sessions', { projectId: project.id, taskIds: [first.id, second.id] });
    const inTerminal = { MAESTRO_SESSION_ID: session.id, MAESTRO_TASK_IDS: `${first.id},${second.id}` };
    expect(await maestro(['update:progress', 'Halfway'], inTerminal)).toMatchObject({
      code: 0,
      stdout: `Reported progress on ${first.id}: Halfway`,
    });
    // Outside the terminal, naming only the session: the session's tasks are not looked up.
    expect(await maestro(['report', 'Alone', '--session-id', session.id])).toMatchObject({ code: 0, stdout: 'Reported progress: Alone' });
    const said = "(default: the queue's current task, else the first of $MAESTRO_TASK_IDS)";
    for (const command of ['report', 'update:progress']) {
      const help = await maestro([command, '--help']);
      expect(help.stdout.replace(/\s+/g, ' ')).toContain(said);
      expect(help.stdout).not.toContain("the session's first task");
    }
  });

  it('whoami --help promises what whoami prints', async () => {
    const help = (await maestro(['whoami', '--help'])).stdout;
    expect(help).toContain('Who this terminal is: session, project, tasks, strategy and server');
    const printed = await maestro(['whoami'], { MAESTRO_SESSION_ID: 'sess_x', MAESTRO_STRATEGY: 'simple' });
    expect(printed.stdout.split('\n').map((line) => line.split(':')[0])).toEqual(['Session', 'Project', 'Tasks', 'Strategy', 'Server']);
  });

  it('session spawn --help says a runner launches the agent, not only that UIs open a terminal', async () => {
    const help = (await maestro(['session', 'spawn', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('a runner launches it in tmux (with no runner, connected UIs open its terminal)');
  });

  it('a spawn on an offline host says it waits for that host, not that it launches', async () => {
    // A runner named "second" says hello, then goes away: the host is known and offline.
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/hosts/connect`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const welcomed = new Promise((resolve) => ws.once('message', resolve));
    ws.send(
      JSON.stringify({
        type: 'hello',
        name: 'second',
        hostname: 'second',
        platform: 'linux',
        arch: 'x64',
        version: '1',
        agents: ['shell'],
        sessions: [],
      }),
    );
    await welcomed;
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.close();
    await closed;
    let host = await api('GET', '/api/hosts/second');
    for (let i = 0; host.status !== 'offline' && i < 100; i++) host = await api('GET', '/api/hosts/second');
    expect(host.status).toBe('offline');

    const task = await newTask('Later');
    const r = await maestro(['session', 'spawn', '--task-ids', task.id, '--host', 'second', '--agent', 'shell']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual([
      expect.stringMatching(/^Spawned session sess_\S+$/),
      'Waiting for host second to connect',
    ]);
    expect(r.stdout).not.toContain('Launching on');
  });

  it('a wrong server URL gets a sentence saying what to fix: no scheme, a path too many, not Maestro, never a stack trace', async () => {
    const port = new URL(server.url).port;
    const noScheme = await maestro(['--server', `localhost:${port}`, 'project', 'list']);
    expect(noScheme).toMatchObject({ code: 1, stdout: '' });
    expect(noScheme.stderr).toBe(
      `maestro: Invalid server URL "localhost:${port}" (from --server): give the address the server listens on, e.g. http://localhost:${port}`,
    );
    const fromEnv = await maestro(['project', 'list'], { MAESTRO_API_URL: 'ftp://example' });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain('Invalid server URL "ftp://example" (from MAESTRO_API_URL)');
    // The commands that run outside the usual error handling: before, the error escaped run() as a stack trace.
    for (const command of [['host', '--name', 'nowhere'], ['mcp']]) {
      const r = await maestro(['--server', `localhost:${port}`, ...command]);
      expect(r, command[0]).toMatchObject({ code: 1, stderr: expect.stringMatching(/^maestro: Invalid server URL "localhost:\d+"/) });
    }

    const withApi = await maestro(['project', 'list'], { MAESTRO_API_URL: `${server.url}/api` });
    expect(withApi.code).toBe(1);
    expect(withApi.stderr).toBe(
      `maestro: Route not found: GET ${server.url}/api/api/projects. Check the server URL ${server.url}/api: it is the ` +
        'address the server listens on, without /api (or the server is older than this CLI)',
    );

    const other = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const notMaestro = await maestro(['project', 'list'], { MAESTRO_API_URL: otherUrl });
      expect(notMaestro.code).toBe(1);
      expect(notMaestro.stderr).toBe(
        `maestro: GET /api/projects: the server at ${otherUrl} answered 404 with something that is not JSON: ` +
          'is that the address of Maestro Server (--server, MAESTRO_API_URL)?',
      );
    } finally {
      other.close();
    }
  });

  it('a spawn that no runner will start says so, and how to have it run', async () => {
    const task = await newTask('Nobody runs me');
    const r = await maestro(['session', 'spawn', '--task-ids', task.id]);
    expect(r.code).toBe(0);
    // Before: only "Spawn request sent to Agents UI", and the person waited for an agent that never started.
    expect(r.stdout.split('\n').at(-1)).toBe(
      'No runner will start this agent: the server has no local runner (tmux missing, or MAESTRO_LOCAL_RUNNER=0) and ' +
        'none was named. Only a connected Agents UI opens its terminal. To have it run, start a runner (maestro host) ' +
        'where tmux is installed and spawn again with --host <its name>.',
    );
    const onHost = await maestro(['session', 'spawn', '--task-ids', (await newTask('On a host')).id, '--host', 'second']);
    expect(onHost.stdout).not.toContain('No runner will start');
  });
});
