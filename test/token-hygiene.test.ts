import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { matchesHash, sameSecret } from '../lib/domain/tokens.js';
import { CLI_BIN, cliBaseEnv, listen, onFileEnd, ROOT, startServerProcess, tempDir, testEnv } from './helpers.js';
import { killTmuxServer } from './runner-harness.js';

/*
 * Token hygiene (issue 20 item 5): a real server at LOG_LEVEL=debug with its local runner, a remote runner, people's,
 * sessions' and runners' tokens used every way a client can present them; then no secret may be in anything the
 * processes printed, nor in any file they wrote.
 */

const RUN = `mth${process.pid}`;
const SOCKETS = [`${RUN}-local`, `${RUN}-remote`];
// Registered before the processes start, so it runs after they were killed (file-end cleanups run last first); it
// also removes the socket files, which a killed tmux server leaves in the shared tmux directory.
for (const socket of SOCKETS) onFileEnd(() => killTmuxServer(socket));

const ADMIN = `adm_${'A1b2C3d4'.repeat(4)}`;
const WRONG = `mpt_${'wrongWRONGwrong0'.repeat(2)}`;
const FAKE_AGENT = join(ROOT, 'test/fixtures/fake-agent.mjs');
const env = testEnv({
  MAESTRO_TOKEN: ADMIN,
  LOG_LEVEL: 'debug',
  MAESTRO_LOCAL_RUNNER: '1',
  MAESTRO_HOST_NAME: 'here',
  MAESTRO_TMUX_SOCKET: SOCKETS[0]!,
  // The agent runs the CLI (which sends its session token) and then the fake agent (which calls the API with it).
  MAESTRO_AGENT_COMMAND: `maestro report progress "hygiene" && exec '${process.execPath}' '${FAKE_AGENT}' {promptFile}`,
});
const server = await startServerProcess(env);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
async function call(token: string | undefined, method: string, path: string, body?: unknown) {
  const res = await fetch(server.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : bearer(token)) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
/** Polls until `predicate` holds (real processes: there is no clock to inject). */
async function until<T>(read: () => Promise<T>, predicate: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)?.slice(0, 2000)}\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const ws = (path: string, token: string) => `${server.url.replace(/^http/, 'ws')}${path}?token=${encodeURIComponent(token)}`;
/** Whether a WebSocket upgrade is accepted (then closed) or refused, with its status. */
const tryUpgrade = (url: string, options: WebSocket.ClientOptions = {}) =>
  new Promise<number>((resolve) => {
    const socket = new WebSocket(url, options);
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.once('error', () => resolve(0));
  });

/** Every file under `dir` with its text (binary files too: a secret is ASCII either way). */
function filesUnder(dir: string): { path: string; text: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, text: readFileSync(path, 'latin1') }];
  });
}

/** The remote runner (`maestro host`) process, printing what it logs. */
function startRunner(token: string): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, [CLI_BIN, 'host', '--name', 'remote'], {
    env: { ...cliBaseEnv(), MAESTRO_SERVER_URL: server.url, MAESTRO_HOST_TOKEN: token, MAESTRO_TMUX_SOCKET: SOCKETS[1]! },
    stdio: 'pipe',
  });
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  onFileEnd(() => void (proc.exitCode === null && proc.kill('SIGKILL')));
  return { proc, output: () => out };
}

describe('no token in any log line, file or URL (issue 20 item 5)', { timeout: 120_000 }, () => {
  it('a run that uses every kind of token every way leaves none of them in the output or in DATA_DIR', async () => {
    const secrets: Record<string, string> = { admin: ADMIN, wrong: WRONG };
    // People's tokens: created, used, one revoked.
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const made = await call(ADMIN, 'POST', '/api/tokens', { name: `P ${role}`, role });
      expect(made.status).toBe(201);
      secrets[role] = made.body.token;
    }
    const gone = await call(ADMIN, 'POST', '/api/tokens', { name: 'Leaver', role: 'member' });
    secrets.revoked = gone.body.token;
    expect((await call(secrets.revoked, 'GET', '/api/projects')).status).toBe(200);
    expect((await call(ADMIN, 'DELETE', `/api/tokens/${gone.body.id}`)).status).toBe(204);
    expect((await call(secrets.revoked, 'GET', '/api/projects')).status).toBe(401);
    expect((await call(WRONG, 'GET', '/api/tasks')).status).toBe(401);

    // `?token=` on a plain GET and on SSE is refused (only a WebSocket takes it); on the event socket it works.
    for (const path of ['/api/projects', '/api/events/stream', '/api/tokens']) {
      const res = await fetch(`${server.url}${path}?token=${secrets.member}`);
      expect(res.status).toBe(401);
      await res.body?.cancel();
    }
    const sse = await fetch(`${server.url}/api/events/stream`, { headers: bearer(secrets.viewer!) });
    expect(sse.status).toBe(200);
    await sse.body!.cancel();
    const events = await listen(ws('/ws', secrets.viewer!));
    expect(await tryUpgrade(ws('/ws', WRONG))).toBe(401);

    // A runner token, used by a real runner, and an admin who reads the host list.
    const minted = await call(ADMIN, 'POST', '/api/hosts/remote/token');
    expect(minted.status).toBe(201);
    secrets.runner = minted.body.token;
    const runner = startRunner(secrets.runner!);
    await until(
      () => call(secrets.member, 'GET', '/api/hosts/remote'),
      (r) => r.body?.status === 'online',
    );
    expect(await tryUpgrade(ws('/api/hosts/connect', secrets.runner!))).not.toBe(401);

    // A member spawns on the local runner; the agent uses its session token; that token spawns a child.
    await until(
      () => call(ADMIN, 'GET', '/api/hosts/here'),
      (r) => r.body?.status === 'online',
    );
    const workingDir = tempDir();
    const project = (await call(secrets.member, 'POST', '/api/projects', { name: 'Hygiene', workingDir })).body;
    const task = (await call(secrets.member, 'POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
    const spawned = await call(secrets.member, 'POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      agent: 'custom',
    });
    expect(spawned.status, JSON.stringify(spawned.body)).toBe(201);
    const sessionId = spawned.body.sessionId as string;
    secrets.session = spawned.body.envVars?.MAESTRO_SESSION_TOKEN ?? spawned.body.session?.env?.MAESTRO_SESSION_TOKEN;
    expect(secrets.session).toMatch(/^mst_/);
    await until(
      () => call(ADMIN, 'GET', `/api/sessions/${sessionId}`),
      (r) => (r.body?.timeline ?? []).some((e: { message?: string }) => e.message === 'hygiene'),
    );
    await until(
      () => call(ADMIN, 'GET', `/api/sessions/${sessionId}/terminal`),
      (r) => typeof r.body?.text === 'string' && r.body.text.includes('READY'),
    );
    expect(await tryUpgrade(ws(`/api/sessions/${sessionId}/terminal`, secrets.session!))).toBe(101);
    expect(await tryUpgrade(ws(`/api/sessions/${sessionId}/terminal`, secrets.viewer!))).toBe(101);
    const child = await call(secrets.session, 'POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [(await call(secrets.session, 'POST', '/api/tasks', { projectId: project.id, title: 'Child' })).body.id],
      spawnSource: 'session',
      sessionId,
      agent: 'custom',
    });
    expect(child.status, JSON.stringify(child.body)).toBe(201);
    secrets.child = child.body.envVars?.MAESTRO_SESSION_TOKEN;
    expect(secrets.child).toMatch(/^mst_/);
    expect((await call(secrets.viewer, 'POST', `/api/sessions/${sessionId}/stop`)).status).toBe(403);
    expect((await call(secrets.session, 'POST', `/api/sessions/${sessionId}/stop`)).status).toBe(200);
    await until(
      () => call(ADMIN, 'GET', `/api/sessions/${child.body.sessionId}`),
      (r) => ['completed', 'failed', 'stopped'].includes(r.body?.status),
    );
    // A secret in a viewer's event stream would be a leak too: the spawn events it saw carry no token.
    const seen = JSON.stringify(await events.drain());
    events.close();

    runner.proc.kill('SIGTERM');
    server.proc.kill('SIGTERM');
    await new Promise((r) => runner.proc.once('exit', r));
    await server.exited;

    const printed = { server: server.output(), runner: runner.output() };
    // The run did log at debug level (a test that captured nothing could not fail).
    expect(printed.server).toMatch(/DEBUG/);
    expect(printed.runner).toContain('connected as remote');
    const files = [...filesUnder(env.DATA_DIR!), ...filesUnder(env.SESSION_DIR!)];
    expect(files.some((f) => f.path.includes('tokens'))).toBe(true);
    for (const [kind, secret] of Object.entries(secrets)) {
      expect(secret, kind).toBeTruthy();
      expect(printed.server.includes(secret!), `${kind} token in the server's output`).toBe(false);
      expect(printed.runner.includes(secret!), `${kind} token in the runner's output`).toBe(false);
      expect(seen.includes(secret!), `${kind} token in a viewer's events`).toBe(false);
      for (const file of files) expect(file.text.includes(secret!), `${kind} token in ${file.path}`).toBe(false);
    }
  });
});

describe('secrets are compared in constant time', () => {
  it('compares fixed-length digests, whatever the lengths of what is presented', () => {
    expect(sameSecret(ADMIN, ADMIN)).toBe(true);
    expect(sameSecret(`${ADMIN}x`, ADMIN)).toBe(false);
    expect(sameSecret('', ADMIN)).toBe(false);
    expect(sameSecret('é'.repeat(ADMIN.length / 2), ADMIN)).toBe(false);
    const stored = createHash('sha256').update('0').digest('hex');
    expect(matchesHash('0', stored)).toBe(true);
    expect(matchesHash('1', stored)).toBe(false);
    expect(matchesHash('0', 'not a hash')).toBe(false);
  });

  it('no module compares a presented token with === (they go through sameSecret or matchesHash)', () => {
    for (const file of ['lib/http/auth.ts', 'lib/domain/tokens.ts', 'lib/domain/people.ts']) {
      const source = readFileSync(join(ROOT, file), 'utf8');
      expect(source, file).not.toMatch(/(given|token|secret)\s*[!=]==\s*(expected|config\.token|stored)/);
      expect(source, file).not.toMatch(/byteLength\(given\)/);
    }
  });
});
