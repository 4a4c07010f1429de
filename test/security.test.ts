import { readdirSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { expectError } from './assertions.js';
import { runToExit, type ServerProcess, startServerProcess, startTestServer, type TestServer, testEnv } from './helpers.js';

/**
 * Security (contract §1.1, §4.1, §10): the bearer token, the browser-origin rule for HTTP and WebSocket upgrades,
 * and the refusal to listen beyond loopback without a token. All traffic goes to 127.0.0.1.
 */

const TOKEN = 's3cret-token_with.symbols~';

// Servers and processes started through helpers.ts are stopped by it; these are the ones opened here.
const sockets = new Set<WebSocket>();
afterAll(() => {
  sockets.forEach((ws) => ws.terminate());
});

const server = (extra: Record<string, string> = {}) => startTestServer(extra);

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function send(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const res = await fetch(base + path, { method, headers: opts.headers, body: opts.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A request with headers fetch does not let a caller set (`Host`): what a browser sends for a page at that name. */
function sendAs(base: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: any }>((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = request({ host: hostname, port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A WebSocket upgrade: 101 and the open socket, or the status the server refused it with. */
function upgrade(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    sockets.add(ws);
    ws.on('error', (error) => reject(error));
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode! });
      req.destroy();
    });
  });
}

/** Resolves with the next broadcast event received on `ws`, or rejects after `ms`. */
const nextEvent = (ws: WebSocket, ms = 3000) =>
  new Promise<any>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no event')), ms);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(JSON.parse(String(data)));
    });
  });

const wsUrl = (s: { url: string }, path = '/ws') => s.url.replace(/^http/, 'ws') + path;

describe('MAESTRO_TOKEN', () => {
  let s: TestServer;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const projectFiles = () => readdirSync(join(s.config.dataDir, 'projects'));

  beforeAll(async () => {
    s = await server({ MAESTRO_TOKEN: TOKEN });
    base = s.url;
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer wrong' }],
    ['the token with one more character', { authorization: `Bearer ${TOKEN}x` }],
    ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['the token without the Bearer scheme', { authorization: TOKEN }],
    ['the token as Basic credentials', { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
  ])('refuses /api/* with %s: 401 UNAUTHORIZED', async (_name, headers) => {
    expectError(await send(base, 'GET', '/api/projects', { headers }), 401, 'UNAUTHORIZED');
    expectError(await send(base, 'GET', '/api/tasks?projectId=x', { headers }), 401, 'UNAUTHORIZED');
  });

  it('refuses writes without the token and writes nothing', async () => {
    const before = projectFiles();
    expectError(await send(base, 'POST', '/api/projects', { body: JSON.stringify({ name: 'x' }) }), 401, 'UNAUTHORIZED');
    expectError(await send(base, 'DELETE', '/api/projects/whatever'), 401, 'UNAUTHORIZED');
    expect(projectFiles()).toEqual(before);
  });

  it('refuses even unknown /api routes and the token in the query string of a plain request', async () => {
    expectError(await send(base, 'GET', '/api/nope'), 401, 'UNAUTHORIZED');
    expectError(await send(base, 'GET', `/api/projects?token=${encodeURIComponent(TOKEN)}`), 401, 'UNAUTHORIZED');
  });

  it('accepts the right token', async () => {
    const created = await send(base, 'POST', '/api/projects', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Mine' }),
    });
    expect(created.status).toBe(201);
    const list = await send(base, 'GET', '/api/projects', { headers: auth });
    expect(list.status).toBe(200);
    expect(list.body.map((p: any) => p.id)).toContain(created.body.id);
  });

  it('keeps /health open', async () => {
    const res = await send(base, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });

  it('refuses a WebSocket upgrade without the token, or with a wrong one, with 401', async () => {
    expect((await upgrade(wsUrl(s))).status).toBe(401);
    expect((await upgrade(wsUrl(s, '/ws?token=wrong'))).status).toBe(401);
    expect((await upgrade(wsUrl(s), { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('accepts a WebSocket upgrade with the header or ?token=, and delivers events to it', async () => {
    const viaHeader = await upgrade(wsUrl(s), { headers: auth });
    const viaQuery = await upgrade(wsUrl(s, `/ws?token=${encodeURIComponent(TOKEN)}`));
    expect([viaHeader.status, viaQuery.status]).toEqual([101, 101]);
    const events = [nextEvent(viaHeader.ws!), nextEvent(viaQuery.ws!)];
    await send(base, 'POST', '/api/projects', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Live' }),
    });
    for (const event of await Promise.all(events)) expect(event).toMatchObject({ type: 'project:created', data: { name: 'Live' } });
  });
});

describe('CORS and browser origins', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await server();
  });

  const LOOPBACK = ['http://localhost:5173', 'http://127.0.0.1:8080', 'http://[::1]:3000', 'http://localhost'];
  const FOREIGN = [
    'http://evil.example',
    'http://localhost.evil.example',
    'http://127.0.0.1.nip.io:8080',
    'null',
    'http://evil.example:5173',
  ];

  it.each(LOOPBACK)('allows the loopback origin %s and echoes it', async (origin) => {
    const res = await send(s.url, 'GET', '/api/projects', { headers: { origin } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    const preflight = await send(s.url, 'OPTIONS', '/api/tasks/x', {
      headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/PATCH/);
  });

  it.each(FOREIGN)('refuses the foreign origin %s with 403 FORBIDDEN, preflight included, and writes nothing', async (origin) => {
    const files = () => readdirSync(join(s.config.dataDir, 'projects'));
    const victim = await send(s.url, 'POST', '/api/projects', { body: JSON.stringify({ name: 'Victim' }) });
    const before = files();
    const get = await send(s.url, 'GET', '/api/projects', { headers: { origin } });
    expectError(get, 403, 'FORBIDDEN');
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
    // Browsers send these cross-site without a preflight.
    expectError(
      await send(s.url, 'POST', '/api/projects', {
        headers: { origin, 'content-type': 'text/plain' },
        body: JSON.stringify({ name: 'csrf' }),
      }),
      403,
      'FORBIDDEN',
    );
    expectError(await send(s.url, 'DELETE', `/api/projects/${victim.body.id}`, { headers: { origin } }), 403, 'FORBIDDEN');
    const preflight = await send(s.url, 'OPTIONS', '/api/projects', { headers: { origin, 'access-control-request-method': 'POST' } });
    expectError(preflight, 403, 'FORBIDDEN');
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(files()).toEqual(before);
    expect((await send(s.url, 'GET', `/api/projects/${victim.body.id}`)).status).toBe(200);
  });

  it('leaves requests without an Origin header unaffected', async () => {
    expect((await send(s.url, 'GET', '/api/projects')).status).toBe(200);
    const created = await send(s.url, 'POST', '/api/projects', { body: JSON.stringify({ name: 'CLI' }) });
    expect(created.status).toBe(201);
  });

  it('refuses a WebSocket upgrade from a foreign origin with 403 and accepts loopback ones', async () => {
    expect((await upgrade(wsUrl(s), { origin: 'http://evil.example' })).status).toBe(403);
    expect((await upgrade(wsUrl(s), { origin: 'null' })).status).toBe(403);
    expect((await upgrade(wsUrl(s), { origin: 'http://localhost:5173' })).status).toBe(101);
    expect((await upgrade(wsUrl(s))).status).toBe(101);
  });

  it('adds the origins listed in CORS_ORIGINS, and only those', async () => {
    const listed = await server({ CORS_ORIGINS: 'https://app.example.com, https://ui.example.org/' });
    for (const origin of ['https://app.example.com', 'https://ui.example.org', 'http://localhost:3000']) {
      const res = await send(listed.url, 'GET', '/api/projects', { headers: { origin } });
      expect(res.status, origin).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    }
    for (const origin of ['https://evil.example', 'http://app.example.com', 'https://app.example.com.evil.example']) {
      expectError(await send(listed.url, 'GET', '/api/projects', { headers: { origin } }), 403, 'FORBIDDEN');
    }
    expect((await upgrade(wsUrl(listed), { origin: 'https://app.example.com' })).status).toBe(101);
    expect((await upgrade(wsUrl(listed), { origin: 'https://evil.example' })).status).toBe(403);
  });

  it("takes the server's own origin (the dashboard at a network name or behind a proxy), and no other site's", async () => {
    const guarded = await server({ MAESTRO_TOKEN: TOKEN });
    const auth = `Bearer ${TOKEN}`;
    const post = (host: string, origin: string) =>
      sendAs(
        guarded.url,
        'POST',
        '/api/projects',
        { host, origin, authorization: auth, 'content-type': 'application/json' },
        '{"name":"From the page"}',
      );
    const own = await post('maestro.example:8443', 'https://maestro.example:8443');
    expect(own.status).toBe(201);
    expect(own.headers['access-control-allow-origin']).toBe('https://maestro.example:8443');
    expect((await post('maestro.example', 'https://maestro.example')).status).toBe(201);
    expect(
      (await upgrade(wsUrl(guarded), { origin: 'https://maestro.example', headers: { host: 'maestro.example', authorization: auth } }))
        .status,
    ).toBe(101);
    // Another site naming the server, another port, a path or no scheme: still foreign.
    for (const origin of [
      'https://evil.example',
      'https://maestro.example:8443',
      'https://maestro.example.evil.example',
      'https://maestro.example/x',
      'maestro.example',
    ]) {
      const refused = await post('maestro.example', origin);
      expect(refused.status, origin).toBe(403);
      expect(refused.body.code).toBe('FORBIDDEN');
    }
    expect(
      (await upgrade(wsUrl(guarded), { origin: 'https://evil.example', headers: { host: 'maestro.example', authorization: auth } })).status,
    ).toBe(403);
    const names = (await send(guarded.url, 'GET', '/api/projects', { headers: { authorization: auth } })).body.map((p: any) => p.name);
    expect(names).toEqual(['From the page', 'From the page']);
    // A page that rebinds its own name to a tokenless server is its own origin, but not a loopback Host: refused.
    const before = readdirSync(join(s.config.dataDir, 'projects'));
    const rebound = await sendAs(s.url, 'POST', '/api/projects', { host: 'evil.example', origin: 'http://evil.example' }, '{"name":"x"}');
    expect(rebound.status).toBe(403);
    expect(rebound.body.code).toBe('FORBIDDEN');
    expect(readdirSync(join(s.config.dataDir, 'projects'))).toEqual(before);
  });

  it('allows any origin with CORS_ORIGINS=*', async () => {
    const open = await server({ CORS_ORIGINS: '*' });
    const origin = 'https://anything.example';
    const res = await send(open.url, 'GET', '/api/projects', { headers: { origin } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    const preflight = await send(open.url, 'OPTIONS', '/api/projects', { headers: { origin, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect((await upgrade(wsUrl(open), { origin })).status).toBe(101);
  });
});

async function boot(env: Record<string, string>) {
  const p: ServerProcess = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
  // The server may listen on every interface; the test still only talks to loopback.
  const base = p.url.replace(/\/\/[^/]+:(\d+)$/, '//127.0.0.1:$1');
  return { ...p, base };
}

describe('listen address (§10, OP-27)', () => {
  // Inherited variables must not change what is tested.
  const clean = { HOST: '', MAESTRO_TOKEN: '', MAESTRO_ALLOW_INSECURE: '', CORS_ORIGINS: '' };

  it('refuses to start on 0.0.0.0 without a token: exit 1 and a clear message', async () => {
    for (const extra of [{}, { MAESTRO_ALLOW_INSECURE: '0' }, { MAESTRO_ALLOW_INSECURE: 'yes' }]) {
      const { code, stdout, stderr } = await runToExit(testEnv({ ...clean, HOST: '0.0.0.0', LOG_LEVEL: 'info', ...extra }));
      const output = stdout + stderr;
      expect(code, output).toBe(1);
      expect(output).toMatch(/0\.0\.0\.0/);
      expect(output).toMatch(/MAESTRO_TOKEN/);
      expect(output).not.toMatch(/listening on/);
    }
  });

  it('starts on 0.0.0.0 with a token, and then requires it', async () => {
    const p = await boot(testEnv({ ...clean, HOST: '0.0.0.0', MAESTRO_TOKEN: TOKEN }));
    expect(p.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    expect((await send(p.base, 'GET', '/health')).status).toBe(200);
    expectError(await send(p.base, 'GET', '/api/projects'), 401, 'UNAUTHORIZED');
    expect((await send(p.base, 'GET', '/api/projects', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('starts on 0.0.0.0 without a token when MAESTRO_ALLOW_INSECURE=1, with a warning', async () => {
    const p = await boot(testEnv({ ...clean, HOST: '0.0.0.0', MAESTRO_ALLOW_INSECURE: '1' }));
    expect((await send(p.base, 'GET', '/api/projects')).status).toBe(200);
    expect(p.output()).toMatch(/without a token/i);
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
