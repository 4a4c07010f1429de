import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ROUTE_ROLES } from '../lib/http/roles.js';
import { expectError } from './assertions.js';
import { type Call, inProcess, listen, startTestServer, tempDir, until } from './helpers.js';
import { online, startRunner } from './runner-harness.js';

/** Roles (contract §23): the table covers every route, and each role gets exactly what it may do, over a real server. */

const ADMIN = 'admin-token-for-roles';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('the role table (lib/http/roles.ts)', () => {
  it('has exactly one line for every route the OpenAPI description lists', async () => {
    const app = await inProcess();
    const doc = (await app.call('GET', '/api/openapi.json')).body;
    const described = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const registered = app.routes.map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(described.sort()).toEqual([...registered].sort());
    expect(Object.keys(ROUTE_ROLES).sort()).toEqual([...registered].sort());
    await app.close();
  });
});

describe('each role over a real server', async () => {
  const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });
  const as =
    (token: string): Call =>
    (method, path, body, headers = {}) =>
      server.call(method, path, body, { ...bearer(token), ...headers });
  const admin = as(ADMIN);
  const mint = async (name: string, role: string) => (await admin('POST', '/api/tokens', { name, role })).body.token as string;
  const [viewerToken, memberToken, personAdminToken] = [
    await mint('Vera', 'viewer'),
    await mint('Max', 'member'),
    await mint('Ada', 'admin'),
  ];
  const [viewer, member, personAdmin] = [as(viewerToken), as(memberToken), as(personAdminToken)];
  const workingDir = join(tempDir(), 'work');
  mkdirSync(workingDir);
  const project = (await admin('POST', '/api/projects', { name: 'Shared', workingDir })).body;
  const task = (await admin('POST', '/api/tasks', { projectId: project.id, title: 'Shared task' })).body;
  const session = (await admin('POST', '/api/sessions', { projectId: project.id, taskIds: [], name: 'worker' })).body;

  it('a viewer reads every area but changes nothing', async () => {
    for (const path of [
      '/api/projects',
      `/api/tasks?projectId=${project.id}`,
      `/api/sessions/${session.id}`,
      '/api/hosts',
      '/api/templates',
      '/api/skills',
      '/api/events',
      '/api/openapi.json',
    ]) {
      expect((await viewer('GET', path)).status, path).toBe(200);
    }
    const refused: [string, string, unknown?][] = [
      ['POST', '/api/projects', { name: 'P', workingDir }],
      ['PUT', `/api/projects/${project.id}`, { name: 'Q' }],
      ['POST', '/api/tasks', { projectId: project.id, title: 'T' }],
      ['PATCH', `/api/tasks/${task.id}`, { status: 'completed' }],
      ['POST', `/api/tasks/${task.id}/claim`, { sessionId: session.id }],
      ['POST', `/api/sessions/${session.id}/timeline`, { type: 'progress', message: 'x' }],
      ['POST', `/api/sessions/${session.id}/messages`, { message: 'hi' }],
      ['DELETE', `/api/sessions/${session.id}`],
      ['POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id] }],
      ['POST', '/api/templates', { name: 'T', role: 'worker', content: 'x' }],
      ['POST', '/api/tokens', { name: 'x', role: 'viewer' }],
    ];
    for (const [method, path, body] of refused) expectError(await viewer(method, path, body), 403, 'FORBIDDEN');
    // Nothing changed.
    expect((await admin('GET', `/api/tasks/${task.id}`)).body.status).toBe('todo');
  });

  it('a member works on projects, tasks, sessions and messages, but does not manage tokens, hosts or templates', async () => {
    const made = await member('POST', '/api/projects', { name: 'Member project', workingDir });
    expect(made.status).toBe(201);
    expect((await member('POST', '/api/tasks', { projectId: made.body.id, title: 'Mine' })).status).toBe(201);
    expect((await member('PATCH', `/api/tasks/${task.id}`, { priority: 'high' })).status).toBe(200);
    expect((await member('POST', `/api/sessions/${session.id}/timeline`, { type: 'progress', message: 'on it' })).status).toBe(200);
    expect((await member('POST', `/api/sessions/${session.id}/messages`, { message: 'hello' })).status).toBe(201);
    expect((await member('DELETE', `/api/projects/${made.body.id}`)).status).toBe(400); // it has a task: the rule, not the role
    const template = (await admin('GET', '/api/templates')).body[0];
    for (const [method, path, body] of [
      ['POST', '/api/templates', { name: 'T', role: 'worker', content: 'x' }],
      ['PUT', `/api/templates/${template.id}`, { content: 'changed' }],
      ['DELETE', `/api/templates/${template.id}`],
      ['POST', `/api/templates/${template.id}/reset`],
      ['DELETE', '/api/hosts/somewhere'],
      ['POST', '/api/hosts/somewhere/token'],
      ['GET', '/api/tokens'],
    ] as [string, string, unknown?][]) {
      expectError(await member(method, path, body), 403, 'FORBIDDEN');
    }
  });

  it("a person's admin token may do what MAESTRO_TOKEN does", async () => {
    const template = (await personAdmin('POST', '/api/templates', { name: 'Team template', role: 'worker', content: 'Work.' })).body;
    expect(template.id).toEqual(expect.any(String));
    expect((await personAdmin('DELETE', `/api/templates/${template.id}`)).status).toBe(200);
    expect((await personAdmin('POST', '/api/hosts/builder/token')).status).toBe(201);
    expectError(await personAdmin('DELETE', '/api/hosts/nowhere'), 404, 'HOST_NOT_FOUND');
  });

  it('every role may follow the events by WebSocket and SSE', async () => {
    const ws = await listen(`${server.url.replace(/^http/, 'ws')}/ws?token=${viewerToken}`);
    await admin('PATCH', `/api/tasks/${task.id}`, { description: 'seen by the viewer' });
    expect((await ws.drain()).map((e) => e.type)).toContain('task:updated');
    const sse = await fetch(`${server.url}/api/events/stream`, { headers: bearer(viewerToken) });
    expect(sse.status).toBe(200);
    await sse.body!.cancel();
  });

  it('only an admin or runner token connects a runner', async () => {
    const upgrade = (token: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/hosts/connect?token=${token}`);
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (req, res) => {
          req.destroy();
          resolve(res.statusCode!);
        });
        ws.once('error', reject);
      });
    expect(await upgrade(viewerToken)).toBe(403);
    expect(await upgrade(memberToken)).toBe(403);
    expect(await upgrade(personAdminToken)).toBe(101);
  });

  it("a refused upgrade answers the contract's error body, so a client can say why", async () => {
    const refused = (path: string) =>
      new Promise<{ status: number; body: any; headers: import('node:http').IncomingHttpHeaders }>((resolve, reject) => {
        const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}${path}`);
        ws.once('open', () => reject(new Error(`${path} was upgraded`)));
        ws.once('unexpected-response', (_req, res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body: text && JSON.parse(text), headers: res.headers }));
        });
        ws.once('error', reject);
      });
    expectError(
      await refused(`/api/hosts/connect?token=${memberToken}`),
      403,
      'FORBIDDEN',
      'Only an admin or runner token connects a runner',
    );
    expectError(await refused('/ws?token=not-a-token'), 401, 'UNAUTHORIZED');
    expectError(await refused(`/api/sessions/sess_1_none/terminal?token=${viewerToken}`), 404, 'SESSION_NOT_FOUND');
  });
});

describe('the live terminal: viewers watch, never type', { timeout: 120_000 }, async () => {
  const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });
  const admin: Call = (method, path, body, headers = {}) => server.call(method, path, body, { ...bearer(ADMIN), ...headers });
  startRunner(server.url, 'roles-host', { MAESTRO_TOKEN: ADMIN });
  await online(admin, 'roles-host');

  it("a runner started with a member's token says why the server refuses it", async () => {
    const memberToken = (await admin('POST', '/api/tokens', { name: 'Mia', role: 'member' })).body.token;
    const runner = startRunner(server.url, 'member-host', { MAESTRO_TOKEN: memberToken });
    // Two lines, which may reach this process one at a time: waited for together.
    await expect
      .poll(() => runner.output(), { timeout: 20_000 })
      .toMatch(/server refused the connection: HTTP 403 FORBIDDEN: Only an admin or runner token connects a runner\n.*check MAESTRO_TOKEN/);
    // It keeps trying (§15.2): a token fixed on the server's side, or a proxy's refusal while the server restarts, passes.
    await expect.poll(() => runner.output(), { timeout: 20_000 }).toMatch(/disconnected \(\d+\); reconnecting in \d+ ms/);
    await expect.poll(() => runner.output().split('server refused the connection').length, { timeout: 20_000 }).toBeGreaterThan(2);
    await runner.stop();
  });

  it("a viewer's keys never reach the agent; a member's do", async () => {
    const viewerToken = (await admin('POST', '/api/tokens', { name: 'Vera', role: 'viewer' })).body.token;
    const memberToken = (await admin('POST', '/api/tokens', { name: 'Max', role: 'member' })).body.token;
    const workingDir = join(tempDir(), 'work');
    mkdirSync(workingDir);
    const project = (await admin('POST', '/api/projects', { name: 'Terminal', workingDir })).body;
    const task = (await admin('POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
    const spawned = await admin('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      agent: 'custom',
      host: 'roles-host',
    });
    expect(spawned.status).toBe(201);
    const path = `/api/sessions/${spawned.body.sessionId}/terminal`;
    await until(admin, path, (t) => typeof t?.text === 'string' && t.text.includes('READY'));

    const open = async (token: string) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}${path}?token=${token}`);
      await new Promise((r, j) => ws.once('open', r).once('error', j));
      return ws;
    };
    const watching = await open(viewerToken);
    let seen = '';
    watching.on('message', (data) => (seen += String(data)));
    watching.send('typed by the viewer\r');
    const typing = await open(memberToken);
    typing.send('typed by the member\r');
    await until(admin, path, (t) => t.text.includes('ECHO:typed by the member'));
    const screen = (await viewerGet(server.url, path, viewerToken)).text as string;
    expect(screen).toContain('ECHO:typed by the member');
    expect(screen).not.toContain('ECHO:typed by the viewer');
    expect(seen).toContain('ECHO:typed by the member');
    watching.close();
    typing.close();
    await admin('POST', `/api/sessions/${spawned.body.sessionId}/stop`, {});
  });
});

async function viewerGet(url: string, path: string, token: string) {
  const res = await fetch(url + path, { headers: bearer(token) });
  expect(res.status).toBe(200);
  return res.json() as Promise<{ text: string }>;
}
