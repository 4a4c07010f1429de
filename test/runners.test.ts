import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Call, onFileEnd, startTestServer, type TestServer, tempDir, until } from './helpers.js';
import { FAKE_AGENT, killTmuxServer, online, screenOf, startRunner, tmuxOut } from './runner-harness.js';

/*
 * Runners (contract §15) end to end: a real server, `maestro host` processes, real tmux on sockets of this test run
 * only (`tmux -L`), and a fake agent chosen with the `custom` preset. Nothing here touches any other tmux server.
 */

async function setup(server: TestServer, headers: Record<string, string> = {}) {
  const dir = tempDir();
  const workingDir = join(dir, 'work');
  mkdirSync(workingDir);
  const project = (await server.call('POST', '/api/projects', { name: 'Runner project', workingDir }, headers)).body;
  const spawnTask = async (title: string, extra: Record<string, unknown> = {}) => {
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title }, headers)).body;
    const res = await server.call(
      'POST',
      '/api/sessions/spawn',
      { projectId: project.id, taskIds: [task.id], agent: 'custom', ...extra },
      headers,
    );
    return res;
  };
  return { project, workingDir, spawnTask };
}

const sessionPath = (id: string) => `/api/sessions/${id}`;
const final = (s: any) => ['completed', 'failed', 'stopped'].includes(s?.status);

// Real processes on a shared machine: generous limits, though each step normally takes well under a second.
const SLOW = { timeout: 120_000 };

describe('a runner launches agents in tmux and reports their lives', SLOW, async () => {
  // A wake-up notice is typed once the agent's terminal was quiet this long (§24.8).
  const server = await startTestServer({ MAESTRO_IDLE_MS: '300' });
  const { call } = server;
  const runner = startRunner(server.url, 'alpha');
  await online(call, 'alpha');
  const { spawnTask, workingDir } = await setup(server);

  it('lists the host online with its agents; spawn → running → exit 0 → completed', async () => {
    const host = (await call('GET', '/api/hosts')).body.find((h: any) => h.name === 'alpha');
    expect(host).toMatchObject({ name: 'alpha', status: 'online', local: false, agents: expect.arrayContaining(['shell', 'custom']) });

    const res = await spawnTask('Say hello', { host: 'alpha' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      host: 'alpha',
      agent: 'custom',
      session: { host: 'alpha', agent: 'custom', run: { state: 'pending' } },
    });
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

  it('stop ends the agent of a session already marked ended, and leaves its status alone', async () => {
    const res = await spawnTask('MODE:echo', { host: 'alpha' });
    const id = res.body.sessionId;
    await until(call, `${sessionPath(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes('READY'));
    // What `maestro session complete` does: the status is final, the agent runs on.
    const marked = await call('PATCH', sessionPath(id), { status: 'completed' });
    expect(marked.body).toMatchObject({ status: 'completed', run: { state: 'running' } });

    const stopped = await call('POST', `${sessionPath(id)}/stop`, {});
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({
      status: 'completed',
      completedAt: marked.body.completedAt,
      run: { state: 'exited', reason: 'Stopped' },
    });
    const deadline = Date.now() + 20_000;
    while (tmuxOut(runner.socket, ['list-sessions', '-F', '#{session_name}']).includes(`maestro-${id}`)) {
      if (Date.now() > deadline) throw new Error('the stopped agent kept running');
      await new Promise((r) => setTimeout(r, 50));
    }
    const again = await call('POST', `${sessionPath(id)}/stop`, {});
    expect(again.body).toMatchObject({ status: 'completed', run: { state: 'exited', reason: 'Stopped' } });
  });

  it('a message wakes the agent: the notice is typed into its terminal and the message is delivered (§16.3)', async () => {
    const res = await spawnTask('MODE:echo', { host: 'alpha' });
    const id = res.body.sessionId;
    await until(call, `${sessionPath(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes('READY'));
    const sent = await call('POST', `${sessionPath(id)}/messages`, { message: 'Please rebase', metadata: { priority: 'high' } });
    expect(sent.status).toBe(201);
    const notice = `ECHO:[maestro] New message from user: run "maestro inbox"`;
    await until(call, `${sessionPath(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes(notice));
    const message = await until(call, `/api/messages/${sent.body.id}`, (m) => m?.status === 'delivered');
    expect(message.deliveredAt).toBeGreaterThan(0);
    // Low priority wakes nobody: it waits for the agent to read its inbox.
    const quiet = await call('POST', `${sessionPath(id)}/messages`, { message: 'fyi', metadata: { priority: 'low' } });
    expect((await call('GET', `/api/messages/${quiet.body.id}`)).body.status).toBe('pending');
    await call('POST', `${sessionPath(id)}/stop`, {});
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
    const twin = startRunner(server.url, 'alpha');
    expect(await twin.exited).toBe(1);
    expect(twin.output()).toContain('already connected as "alpha"');
    expect((await call('GET', '/api/hosts/alpha')).body.status).toBe('online');
    expect(runner.proc.exitCode).toBeNull();
  });
});

describe('runner restarts, lost agents, launches that wait, several hosts', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const { spawnTask } = await setup(server);

  it('an agent outlives its runner: reconciled as running when it reconnects, lost when it died meanwhile', async () => {
    let beta = startRunner(server.url, 'beta');
    await online(call, 'beta');
    const res = await spawnTask('MODE:echo', { host: 'beta' });
    const id = res.body.sessionId;
    await until(call, `${sessionPath(id)}/terminal`, (t) => t?.text?.includes('READY'));

    await beta.stop();
    expect(await beta.exited).toBe(0);
    await until(call, '/api/hosts/beta', (h) => h.status === 'offline');
    expect((await call('GET', `${sessionPath(id)}/terminal`)).status).toBe(503);
    beta = startRunner(server.url, 'beta');
    await online(call, 'beta');
    const input = await call('POST', `${sessionPath(id)}/input`, { text: 'still here' });
    expect(input.status).toBe(200);
    const after = await until(call, `${sessionPath(id)}/terminal`, (t) => t?.text?.includes('ECHO:still here'));
    expect(after.alive).toBe(true);
    expect((await call('GET', sessionPath(id))).body).toMatchObject({ status: 'working', run: { state: 'running' } });

    await beta.stop();
    execFileSync('tmux', ['-L', beta.socket, 'kill-session', '-t', `maestro-${id}`]);
    startRunner(server.url, 'beta');
    const lost = await until(call, sessionPath(id), final);
    expect(lost).toMatchObject({ status: 'failed', run: { state: 'lost' } });
    expect(lost.timeline.at(-1)).toMatchObject({ type: 'error', message: 'Agent process not found on beta' });
  });

  it('a spawn to an offline host waits and is launched when it connects; two hosts at once', async () => {
    const gamma = startRunner(server.url, 'gamma');
    await online(call, 'gamma');
    await gamma.stop();
    await until(call, '/api/hosts/gamma', (h) => h.status === 'offline');

    const res = await spawnTask('Later', { host: 'gamma' });
    expect(res.status).toBe(201);
    expect(res.body.session).toMatchObject({ status: 'spawning', host: 'gamma', run: { state: 'pending' } });
    expect((await call('GET', '/api/hosts/gamma')).body).toMatchObject({ status: 'offline', sessions: 1 });
    expect((await call('DELETE', '/api/hosts/gamma')).status).toBe(400);

    startRunner(server.url, 'gamma');
    const done = await until(call, sessionPath(res.body.sessionId), final);
    expect(done).toMatchObject({ status: 'completed', host: 'gamma', run: { state: 'exited', exitCode: 0 } });
    const hosts = (await call('GET', '/api/hosts')).body;
    expect(
      hosts
        .filter((h: any) => h.status === 'online')
        .map((h: any) => h.name)
        .sort(),
    ).toEqual(['beta', 'gamma']);
    const unknownHost = await spawnTask('Nowhere', { host: 'nowhere' });
    expect(unknownHost.status).toBe(404);
    expect(unknownHost.body.code).toBe('HOST_NOT_FOUND');
    expect((await spawnTask('Bad agent', { agent: 'vim' })).status).toBe(400);
  });
});

describe("a runner's environment reaches its agents (§15.3)", SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const { spawnTask } = await setup(server);

  it("a new agent gets the current runner's environment, not the one the surviving tmux server started with", async () => {
    // Characters tmux would read as a format or a command separator, if a value ever went through its parser.
    const first = startRunner(server.url, 'zeta', { FAKE_AGENT_PROBE: 'first #{session_name} ##' });
    await online(call, 'zeta');
    const alive = (await spawnTask('MODE:echo', { host: 'zeta' })).body.sessionId;
    const before = await until(call, `${sessionPath(alive)}/terminal`, (t) => t?.text?.includes('READY'));
    expect(before.text).toContain('probe env: [first #{session_name} ##]');
    // The agent keeps the tmux server running across the restart.
    await first.stop();
    await until(call, '/api/hosts/zeta', (h) => h.status === 'offline');

    startRunner(server.url, 'zeta', { FAKE_AGENT_PROBE: 'second #{session_name} ##;' });
    await online(call, 'zeta');
    const fresh = (await spawnTask('Plain', { host: 'zeta' })).body.sessionId;
    const done = await until(call, sessionPath(fresh), final);
    const screen = await screenOf(call, done.id);
    expect(done.status, screen).toBe('completed');
    expect(screen).toContain('probe env: [second #{session_name} ##;]');
    expect((await call('GET', `${sessionPath(alive)}/terminal`)).body.alive).toBe(true);
  });
});

describe('session tokens on a token-protected server (§15.6)', SLOW, async () => {
  const ADMIN = 'admin-secret-token-1234567890';
  const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });
  const admin = { authorization: `Bearer ${ADMIN}` };
  const call: Call = (method, path, body, headers) => server.call(method, path, body, { ...admin, ...headers });
  startRunner(server.url, 'delta', { MAESTRO_HOST_TOKEN: ADMIN });
  await online(call, 'delta');
  const { spawnTask, project } = await setup({ ...server, call });

  it('the agent works against the API with its own token and never sees the admin token', async () => {
    const res = await spawnTask('Token check', { host: 'delta' });
    const done = await until(call, sessionPath(res.body.sessionId), final);
    expect(done.status).toBe('completed');
    const text = await screenOf(call, done.id, 200);
    expect(text).toContain('admin token: absent');
    expect(text).toContain('api: 200 working');
  });

  it('scope: identifies its session, may not act as another or do admin things; 401 once ended', async () => {
    const parent = await spawnTask('MODE:echo', { host: 'delta' });
    const token = parent.body.envVars.MAESTRO_SESSION_TOKEN;
    const as = { authorization: `Bearer ${token}` };
    const id = parent.body.sessionId;
    await until(call, `${sessionPath(id)}/terminal`, (t) => t?.text?.includes('READY'));
    const other = await spawnTask('MODE:echo', { host: 'delta' });

    expect((await server.call('GET', sessionPath(id), undefined, as)).status).toBe(200);
    expect((await server.call('GET', '/api/projects', undefined, { authorization: 'Bearer mst_forged' })).status).toBe(401);
    const wrongId = await server.call('GET', '/api/projects', undefined, { ...as, 'x-session-id': other.body.sessionId });
    expect(wrongId.status).toBe(403);
    expect(wrongId.body.code).toBe('FORBIDDEN');
    expect((await server.call('DELETE', `/api/projects/${project.id}`, undefined, as)).status).toBe(403);
    expect((await server.call('POST', '/api/templates', { name: 'x', role: 'worker', content: 'y' }, as)).status).toBe(403);
    expect((await server.call('DELETE', '/api/hosts/delta', undefined, as)).status).toBe(403);
    expect((await server.call('POST', `${sessionPath(other.body.sessionId)}/input`, { text: 'rm -rf /' }, as)).status).toBe(403);
    expect((await server.call('POST', `${sessionPath(other.body.sessionId)}/stop`, {}, as)).status).toBe(403);
    expect((await server.call('GET', `${sessionPath(other.body.sessionId)}/terminal`, undefined, as)).status).toBe(403);
    expect((await server.call('GET', `${sessionPath(id)}/terminal`, undefined, as)).status).toBe(200);
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/hosts/connect`, { headers: as });
      ws.on('unexpected-response', (_req, r) => resolve(r.statusCode!));
      ws.on('open', () => resolve(101));
    });
    expect(refused).toBe(403);

    // A session it spawned is within reach.
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
    const child = await server.call(
      'POST',
      '/api/sessions/spawn',
      {
        projectId: project.id,
        taskIds: [task.id],
        host: 'delta',
        agent: 'custom',
        spawnSource: 'session',
        sessionId: id,
      },
      as,
    );
    expect(child.status).toBe(201);
    expect(child.body.session.metadata.spawnedBy).toBe(id);
    expect((await server.call('POST', `${sessionPath(child.body.sessionId)}/stop`, {}, as)).status).toBe(200);

    expect((await call('POST', `${sessionPath(id)}/stop`, {})).status).toBe(200);
    expect((await server.call('GET', sessionPath(id), undefined, as)).status).toBe(401);
    await call('POST', `${sessionPath(other.body.sessionId)}/stop`, {});
  });

  it('only the hash is stored, outside the session; the token is never served', async () => {
    const res = await spawnTask('Secret', { host: 'delta' });
    const token: string = res.body.envVars.MAESTRO_SESSION_TOKEN;
    const { readFileSync, readdirSync } = await import('node:fs');
    const dataDir = server.config.dataDir;
    const secret = JSON.parse(readFileSync(join(dataDir, 'secrets', `${res.body.sessionId}.json`), 'utf8'));
    expect(secret.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    const files = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    for (const f of files) expect(readFileSync(join(f.parentPath, f.name), 'utf8')).not.toContain(token);
    expect(JSON.stringify((await call('GET', sessionPath(res.body.sessionId))).body)).not.toContain(token);
    await until(call, sessionPath(res.body.sessionId), final);
  });
});

describe('the Host check without a token (§13.4), and a session token on an open server', SLOW, async () => {
  const server = await startTestServer({ MAESTRO_ALLOWED_HOSTS: 'maestro.lan' });
  const http = await import('node:http');
  const get = (host: string, path = '/api/projects', headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(`${server.url}${path}`, { headers: { host, ...headers } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });

  it('answers loopback names and listed names, refuses others (HTTP and WebSocket upgrade)', async () => {
    expect(await get(`localhost:${server.port}`)).toBe(200);
    expect(await get(`127.0.0.1:${server.port}`)).toBe(200);
    expect(await get(`[::1]:${server.port}`)).toBe(200);
    expect(await get('maestro.lan:3000')).toBe(200);
    expect(await get('evil.example')).toBe(403);
    expect(await get(`evil.example:${server.port}`, '/health')).toBe(403);
    expect(await get('localhost.evil.example')).toBe(403);
    expect(
      await get('evil.example', '/ws', {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      }),
    ).toBe(403);
  });

  it('a presented bearer must be a live session token', async () => {
    expect((await server.call('GET', '/api/projects', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
  });
});

describe('no value reaches a shell (§15.3)', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const trap = tempDir();
  const payload = (n: number) => `$(touch ${trap}/P${n}) \`touch ${trap}/Q${n}\`; touch ${trap}/R${n} 'a" \n b`;
  startRunner(server.url, 'eps', { MAESTRO_AGENT_COMMAND: `${process.execPath} ${FAKE_AGENT} {promptFile} {prompt}` });
  await online(call, 'eps');

  it('directory, task title, environment values and the prompt stay data', async () => {
    const workingDir = join(tempDir(), payload(1).replaceAll('/', '_'));
    mkdirSync(workingDir);
    const project = (await call('POST', '/api/projects', { name: payload(2), workingDir })).body;
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: payload(3), description: payload(4) })).body;
    const res = await call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      host: 'eps',
      agent: 'custom',
      skills: [payload(5), 'ends with a tmux separator;'],
      sessionName: payload(6),
    });
    expect(res.status).toBe(201);
    const done = await until(call, sessionPath(res.body.sessionId), final);
    const screen = await call('GET', `${sessionPath(done.id)}/terminal?lines=400`);
    expect(done.status, JSON.stringify({ run: done.run, screen: screen.body })).toBe('completed');
    expect(screen.body.text).toContain('all done');
    const text = await screenOf(call, done.id);
    expect(text).toContain('prompt argument:');
    expect(text).toContain(`skills env: [${payload(5).split('\n')[0]}`);
    expect(text).toContain(',ends with a tmux separator;]');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(trap)).toEqual([]);
  });
});

describe('maestro serve runs a local runner (§15.2)', SLOW, async () => {
  const { startServerProcess, testEnv } = await import('./helpers.js');
  const socket = `mt${process.pid}-local`;
  onFileEnd(() => killTmuxServer(socket));
  const proc = await startServerProcess(
    testEnv({ MAESTRO_LOCAL_RUNNER: '1', MAESTRO_HOST_NAME: 'here', MAESTRO_TMUX_SOCKET: socket, SHELL: '/bin/sh', LOG_LEVEL: 'info' }),
  );
  const call: Call = async (method, path, body) => {
    const res = await fetch(proc.url + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };

  it('is an online host with local: true, the default host of spawns, and runs the shell preset', async () => {
    const host = await online(call, 'here');
    expect(host).toMatchObject({ local: true, agents: expect.arrayContaining(['shell']) });
    const { spawnTask } = await setup({ call } as TestServer);
    const res = await spawnTask('Shell by default', { agent: undefined });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ host: 'here', agent: expect.stringMatching(/^(shell|claude)$/) });
    if (res.body.agent !== 'shell') return; // a machine with Claude Code installed defaults to it
    const id = res.body.sessionId;
    const screen = await until(call, `${sessionPath(id)}/terminal`, (t) => t?.text?.includes('Shell by default'));
    expect(screen.alive).toBe(true);
    await call('POST', `${sessionPath(id)}/input`, { text: 'echo "$MAESTRO_SESSION_ID-ok"' });
    await until(call, `${sessionPath(id)}/terminal`, (t) => t?.text?.includes(`${id}-ok`));
    expect((await call('POST', `${sessionPath(id)}/stop`, {})).body.status).toBe('stopped');
    proc.proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});

describe('maestro serve on IPv6 loopback (HOST=::1)', SLOW, async () => {
  const { startServerProcess, testEnv } = await import('./helpers.js');
  const socket = `mt${process.pid}-local6`;
  onFileEnd(() => killTmuxServer(socket));
  const proc = await startServerProcess(
    testEnv({ HOST: '::1', MAESTRO_LOCAL_RUNNER: '1', MAESTRO_HOST_NAME: 'here6', MAESTRO_TMUX_SOCKET: socket, LOG_LEVEL: 'info' }),
  );

  it('has its local runner online (it connected to [::1], where the server listens, not to 127.0.0.1)', async () => {
    expect(proc.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const call: Call = async (method, path) => {
      const res = await fetch(proc.url + path, { method });
      return { status: res.status, body: await res.json(), headers: res.headers };
    };
    expect(await online(call, 'here6')).toMatchObject({ name: 'here6', local: true, status: 'online' });
    proc.proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});

describe('stopping an agent (issue 21 item 16)', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  // An agent whose child ignores the hangup tmux sends when its session is killed, as a background job may.
  startRunner(server.url, 'groupie', { MAESTRO_AGENT_COMMAND: 'trap "" HUP; sleep 600 & echo "CHILD:$!"; wait' });
  await online(call, 'groupie');
  const { spawnTask } = await setup(server);

  it("ends the agent's whole process group, its children included", async () => {
    const res = await spawnTask('Have a child', { host: 'groupie' });
    expect(res.status).toBe(201);
    const id = res.body.sessionId;
    const screen = await until(call, `${sessionPath(id)}/terminal`, (t) => /CHILD:\d+/.test(t?.text ?? ''));
    const child = Number(/CHILD:(\d+)/.exec(screen.text)![1]);
    const alive = () => {
      try {
        process.kill(child, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    expect((await call('POST', `${sessionPath(id)}/stop`, {})).status).toBe(200);
    // A bare kill of the pane's process (the shell) after 5 s left the child running for good.
    const deadline = Date.now() + 15_000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});
