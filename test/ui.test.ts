/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CLI_BIN, ROOT, startTestServer, type TestServer, tempDir, testEnv, until } from './helpers.js';
import { killTmuxServer } from './runner-harness.js';
import { LIVE_MS, launchBrowser } from './ui-browser.js';

/**
 * The dashboard in a real browser (contract §19): Debian's Chromium driven by playwright-core. Nothing is downloaded;
 * without /usr/bin/chromium the suite fails (`apt-get install -y chromium`), it does not skip.
 */

/*
 * Endpoints of contract 2 that other branches add (event log, hosts, messages). Until they are merged the page's
 * requests for them get a 404 "Route not found", which Chromium logs as a console error. Such an error is forgiven only
 * when the server really answers "Route not found" for that path, so once the endpoints exist the check is strict.
 */
const CONTRACT2_PATHS = [/^\/api\/events$/, /^\/api\/hosts$/, /^\/api\/sessions\/[^/]+\/messages$/];

let browser: Browser;

beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

interface Watched {
  page: Page;
  /** Console errors, page errors and requests to another origin seen so far, less the forgiven ones. */
  problems(): Promise<string[]>;
  /** While set, failures to reach the (stopped) server are expected. */
  serverDown: boolean;
}

/** Opens a page on the server and records everything that must not happen. */
async function open(
  server: TestServer,
  hash = '',
  options: { waitLive?: boolean; forgive401?: boolean; token?: string; before?: (page: Page) => Promise<void> } = {},
): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const origin = new URL(server.url).origin;
  const wsOrigin = origin.replace(/^http/, 'ws');
  const raw: { text: string; url?: string }[] = [];
  const watched: Watched = {
    page,
    serverDown: false,
    async problems() {
      const left: string[] = [];
      for (const p of raw) {
        if (p.url && /Failed to load resource: the server responded with a status of 404/.test(p.text)) {
          const url = new URL(p.url);
          if (CONTRACT2_PATHS.some((re) => re.test(url.pathname)) && url.origin === origin) {
            const headers = options.token ? { authorization: `Bearer ${options.token}` } : undefined;
            const answer = (await fetch(url, { headers }).then((r) => r.json())) as { message?: string };
            if (answer.message === 'Route not found') continue;
          }
        }
        if (options.forgive401 && /status of 401/.test(p.text)) continue;
        left.push(`${p.text}${p.url ? ` (${p.url})` : ''}`);
      }
      return left;
    },
  };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const down = /ERR_CONNECTION_REFUSED|WebSocket connection to .* failed/.test(text);
    if (watched.serverDown && down) return;
    raw.push({ text, url: m.location().url });
  });
  page.on('pageerror', (e) => raw.push({ text: `page error: ${e.message}` }));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol !== 'data:' && url.origin !== origin) raw.push({ text: `request left the origin: ${r.url()}` });
  });
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).origin !== wsOrigin) raw.push({ text: `WebSocket left the origin: ${ws.url()}` });
  });
  // Routes a test sets (stand-ins for the API) must be in place before the page's first request.
  await options.before?.(page);
  await page.goto(`${server.url}/${hash}`);
  if (options.waitLive !== false) await live(page);
  return watched;
}

/** Waits for the connection indicator to say the page is live. */
const live = (page: Page, timeout = 5000) => page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout });

const column = (page: Page, name: string) => page.getByRole('region', { name: new RegExp(`^${name} \\(`) });

async function project(server: TestServer, name = 'Shop') {
  return (await server.call('POST', '/api/projects', { name, workingDir: tempDir('maestro-ui-wd-') })).body as { id: string; name: string };
}

describe('dashboard', { timeout: 60_000 }, () => {
  it('ships a production bundle under 250 KB gzipped', () => {
    const dir = join(ROOT, 'dist/ui');
    // The API explorer (explorer/) is loaded by /api/docs only, never by the dashboard.
    const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter(
      (e) => e.isFile() && !join(e.parentPath, e.name).startsWith(join(dir, 'explorer')),
    );
    const gzipped = files.reduce((sum, e) => sum + gzipSync(readFileSync(join(e.parentPath, e.name)), { level: 9 }).length, 0);
    expect(gzipped).toBeLessThan(250 * 1024);
  });

  it('serves the page at / and its files under /ui/, and keeps the JSON 404 elsewhere', async () => {
    const server = await startTestServer();
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(server.url + script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    for (const path of ['/nope', '/ui/nope.js', '/ui/../package.json', '/index.html']) {
      const res = await fetch(server.url + path);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: true, code: 'NOT_FOUND', message: 'Route not found' });
    }
  });

  it('shows a change made through the REST API within 2 s, on the board and in the session groups', async () => {
    const server = await startTestServer();
    const p = await project(server);
    const { page, problems } = await open(server, `#/p/${p.id}`);
    await page.getByRole('heading', { name: 'Shop' }).waitFor();

    const task = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Made with curl' })).body;
    await column(page, 'To do').getByText('Made with curl').waitFor({ timeout: LIVE_MS });
    await server.call('PATCH', `/api/tasks/${task.id}`, { status: 'completed' });
    await column(page, 'Completed').getByText('Made with curl').waitFor({ timeout: LIVE_MS });

    await page.getByRole('link', { name: 'Sessions' }).click();
    await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [task.id], name: 'shop-api-auth' });
    // Grouped by host (none: not runner-managed), then `shop`, then `api`.
    const link = page.getByRole('link', { name: 'shop-api-auth' });
    await link.waitFor({ timeout: LIVE_MS });
    const groups = await link.evaluate((a) => {
      const names: string[] = [];
      for (let d = a.closest('details'); d; d = d.parentElement!.closest('details'))
        names.unshift(d.querySelector('summary')!.textContent!.replace(/\s*\(\d+\)$/, ''));
      return names;
    });
    expect(groups).toEqual(['No runner', 'shop', 'api']);
    await link.click();
    await page.getByRole('heading', { name: 'shop-api-auth' }).waitFor();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    expect(await problems()).toEqual([]);
    await page.close();
  });

  it('keeps two tabs in sync both ways', async () => {
    const server = await startTestServer();
    const p = await project(server);
    const a = await open(server, `#/p/${p.id}`);
    const b = await open(server, `#/p/${p.id}`);

    await a.page.getByLabel('Task title').fill('From tab A');
    await a.page.getByRole('button', { name: 'Add task' }).click();
    await column(b.page, 'To do').getByText('From tab A').waitFor({ timeout: LIVE_MS });

    await b.page.getByRole('button', { name: 'Complete From tab A' }).click();
    await column(a.page, 'Completed').getByText('From tab A').waitFor({ timeout: LIVE_MS });

    await a.page.getByRole('button', { name: 'Edit From tab A' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Edit task' });
    await dialog.getByLabel('Title').fill('Renamed in A');
    await dialog.getByRole('button', { name: 'Save task' }).click();
    await dialog.waitFor({ state: 'detached' });
    await column(b.page, 'Completed').getByText('Renamed in A').waitFor({ timeout: LIVE_MS });

    // A child task made in B shows under its parent in A's tree.
    await b.page.getByRole('button', { name: 'New task…' }).click();
    const create = b.page.getByRole('dialog', { name: 'New task' });
    await create.getByLabel('Title').fill('Child from B');
    await create.getByLabel('Parent task').selectOption({ label: 'Renamed in A' });
    await create.getByRole('button', { name: 'Create task' }).click();
    await a.page.getByRole('link', { name: 'Tree' }).click();
    await a.page.getByRole('group').filter({ hasText: 'subtask of Renamed in A' }).getByText('Child from B').waitFor({ timeout: LIVE_MS });

    expect(await a.problems()).toEqual([]);
    expect(await b.problems()).toEqual([]);
    await a.page.close();
    await b.page.close();
  });

  it('catches up by itself after a server restart', async () => {
    const env = testEnv();
    const first = await startTestServer(env);
    const p = await project(first);
    const watched = await open(first, `#/p/${p.id}`);
    const { page } = watched;

    watched.serverDown = true;
    await first.close();
    await page.getByRole('status', { name: /Offline/ }).waitFor({ timeout: 5000 });
    const second = await startTestServer({ ...env, PORT: String(first.port) });
    await live(page, 15_000);
    await second.call('POST', '/api/tasks', { projectId: p.id, title: 'After the restart' });
    await column(page, 'To do').getByText('After the restart').waitFor({ timeout: LIVE_MS });
    watched.serverDown = false;
    expect(await watched.problems()).toEqual([]);
    await page.close();
  });

  it('asks for the token once per tab and keeps it out of page URLs', async () => {
    const server = await startTestServer({ MAESTRO_TOKEN: 'sekret-token' });
    const p = (await server.call('POST', '/api/projects', { name: 'Locked' }, { authorization: 'Bearer sekret-token' })).body;
    // The first answers that asked for the token are the only errors forgiven.
    const { page, problems } = await open(server, `#/p/${p.id}`, { waitLive: false, forgive401: true, token: 'sekret-token' });
    const dialog = page.getByRole('dialog', { name: 'Access token' });
    await dialog.getByLabel('Token').fill('sekret-token');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await live(page);
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Behind the token' }, { authorization: 'Bearer sekret-token' });
    await page.getByText('Behind the token').waitFor({ timeout: LIVE_MS });
    await page.reload();
    await live(page);
    await page.getByText('Behind the token').waitFor();
    expect(await page.getByRole('dialog', { name: 'Access token' }).count()).toBe(0);
    expect(page.url()).not.toContain('sekret');
    expect(await problems()).toEqual([]);
    await page.close();
  });

  it('names every control, reaches every view, and takes the README screenshot', { timeout: 60_000 }, async () => {
    const server = await startTestServer();
    const p = await project(server, 'Shop');
    const titles = ['Checkout page', 'Payment provider', 'Order emails', 'Search index', 'Product photos', 'Admin login'];
    const ids: string[] = [];
    for (const title of titles) ids.push((await server.call('POST', '/api/tasks', { projectId: p.id, title })).body.id);
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Stripe webhooks', parentId: ids[1] });
    await server.call('PATCH', `/api/tasks/${ids[0]}`, { status: 'in_progress' });
    await server.call('PATCH', `/api/tasks/${ids[3]}`, { status: 'completed' });
    await server.call('PATCH', `/api/tasks/${ids[4]}`, { status: 'blocked', priority: 'high' });
    const session = (
      await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [ids[0]], name: 'shop-web-checkout', status: 'working' })
    ).body;
    await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [ids[1]], name: 'shop-api-payments' });
    await project(server, 'Docs site');

    const { page, problems } = await open(server, `#/p/${p.id}`);
    await column(page, 'In progress').getByText('Checkout page').waitFor();
    // The README's screenshot is taken again on request only, so a test run leaves the checkout as it was.
    const shot = await page.screenshot({ path: process.env.UPDATE_SCREENSHOT ? join(ROOT, 'docs/dashboard.png') : undefined });
    expect(shot.byteLength).toBeGreaterThan(10_000);

    const unnamed = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('a, button, input, select, textarea, summary, [tabindex]')]
          .filter((el) => {
            const label = el.getAttribute('aria-label') ?? el.getAttribute('aria-labelledby') ?? '';
            const text = (el.textContent ?? '').trim();
            const labelled = (el as HTMLInputElement).labels?.length || el.closest('label');
            return !label && !text && !labelled && !el.classList.contains('xterm-helper-textarea');
          })
          .map((el) => el.outerHTML.slice(0, 120)),
      );
    for (const hash of ['#/', `#/p/${p.id}`, `#/p/${p.id}/tree`, '#/sessions', `#/s/${session.id}`, '#/hosts', '#/activity']) {
      await page.goto(`${server.url}/${hash}`);
      await live(page);
      await page.locator('main h1').first().waitFor();
      expect(await unnamed(), hash).toEqual([]);
    }
    // The activity feed shows live events.
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Seen in the feed' });
    await page.getByText('Seen in the feed').waitFor({ timeout: LIVE_MS });

    await page.goto(`${server.url}/#/p/${p.id}`);
    await page.getByRole('button', { name: 'New task…' }).click();
    await page.getByRole('dialog', { name: 'New task' }).waitFor();
    expect(await unnamed()).toEqual([]);
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'New task' }).waitFor({ state: 'detached' });

    // Keyboard only, from a fresh page: Tab to the spawn button, open the dialog, read its controls, close it with Escape.
    await page.reload();
    await live(page);
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Spawn agent') break;
    }
    await page.keyboard.press('Enter');
    const spawn = page.getByRole('dialog', { name: 'Spawn an agent' });
    await spawn.waitFor();
    for (const label of ['Project', 'Tasks', 'Role', 'Strategy', 'Host', 'Agent', 'Model'])
      await spawn.getByLabel(label, { exact: true }).waitFor();
    expect(await unnamed()).toEqual([]);
    await page.keyboard.press('Escape');
    await spawn.waitFor({ state: 'detached' });
    expect(await problems()).toEqual([]);
    await page.close();
  });

  /*
   * CONTRACT 2 CLIENT: the parts of the dashboard that use endpoints other branches add (§15 hosts, run state, the
   * terminal WebSocket, stop and input; §16 messages; §17 `since` replay, `resync` and GET /api/events; §18 ready,
   * claims, blockedBy) are exercised here against a stand-in that answers exactly as the contract says: the page is
   * served by the real server, only /api/* and the sockets are answered by the browser's request router.
   */
  it('drives the contract-2 API as the contract says (stand-in for hosts, terminal, messages, replay and claims)', {
    timeout: 60_000,
  }, async () => {
    const server = await startTestServer();
    const now = Date.now();
    const project = { id: 'proj_1', name: 'Shop', workingDir: '/w', description: '', createdAt: now, updatedAt: now };
    const base = {
      projectId: 'proj_1',
      parentId: null,
      description: '',
      priority: 'medium',
      sessionIds: [],
      createdAt: now,
      updatedAt: now,
    };
    const tasks = [
      {
        ...base,
        id: 'task_a',
        title: 'Schema',
        status: 'in_progress',
        dependencies: [],
        blockedBy: [],
        ready: false,
        claim: { sessionId: 'sess_1', claimedAt: now, expiresAt: now + 9e5, leaseMs: 9e5 },
      },
      { ...base, id: 'task_b', title: 'Endpoints', status: 'todo', dependencies: ['task_a'], blockedBy: ['task_a'], ready: false },
      { ...base, id: 'task_c', title: 'Docs', status: 'todo', dependencies: [], blockedBy: [], ready: true },
    ];
    let session: any = {
      id: 'sess_1',
      projectId: 'proj_1',
      taskIds: ['task_a'],
      name: 'shop-api-auth',
      status: 'working',
      strategy: 'simple',
      startedAt: now,
      lastActivity: now,
      completedAt: null,
      hostname: 'devbox',
      host: 'devbox',
      agent: 'shell',
      run: { state: 'running', pid: 4242 },
      timeline: [{ id: 'evt_1', type: 'session_started', timestamp: now, message: 'Launched on devbox' }],
      env: {},
      events: [],
    };
    const host = {
      name: 'devbox',
      hostname: 'devbox.lan',
      platform: 'linux',
      arch: 'x64',
      version: '1.0.0',
      agents: ['shell', 'claude'],
      local: true,
      status: 'online',
      connectedAt: now,
      lastSeen: now,
      sessions: 1,
    };
    const inbox = [
      {
        id: 'msg_1',
        from: 'user',
        to: 'sess_1',
        projectId: 'proj_1',
        message: 'Please add tests',
        status: 'delivered',
        createdAt: now,
        deliveredAt: now,
        readAt: null,
        expiresAt: null,
        metadata: { priority: 'medium', requiresAck: false },
      },
    ];
    const posted: Record<string, any[]> = {};
    const gets: string[] = [];
    const sockets: string[] = [];
    let events: import('playwright-core').WebSocketRoute | undefined;
    let seq = 41;
    const push = (type: string, data: unknown) =>
      events!.send(JSON.stringify({ type, event: type, data, timestamp: Date.now(), seq: ++seq, projectId: 'proj_1' }));

    // In place before the page loads: routed after a first load, that load's own socket (since=0, from the real
    // server's empty log) could still open through the stand-in and be taken for the first.
    const typed: string[] = [];
    const standIn = async (page: Page) => {
      await page.route(/\/api\//, async (route) => {
        const url = new URL(route.request().url());
        const method = route.request().method();
        const json = (body: unknown, status = 200) =>
          route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
        if (method !== 'GET') {
          (posted[url.pathname] ??= []).push(route.request().postDataJSON());
          if (url.pathname === '/api/sessions/sess_1/stop') {
            session = {
              ...session,
              status: 'stopped',
              completedAt: Date.now(),
              lastActivity: Date.now() + 1,
              run: { state: 'exited', exitCode: null, signal: 'SIGHUP' },
            };
            push('session:updated', session);
            return json(session);
          }
          if (url.pathname === '/api/sessions/sess_1/messages') {
            const message = {
              ...inbox[0],
              id: 'msg_2',
              message: route.request().postDataJSON().message,
              status: 'pending',
              createdAt: Date.now(),
            };
            push('message:created', message);
            return json(message, 201);
          }
          return json({ success: true, sessionId: 'sess_1' }, 201);
        }
        gets.push(url.pathname + url.search);
        switch (url.pathname) {
          case '/api/events':
            return url.searchParams.get('limit') === '1'
              ? json({ events: [], oldestSeq: 1, latestSeq: 41 })
              : json({
                  events: [{ type: 'task:created', event: 'task:created', data: tasks[2], timestamp: now, seq: 40, projectId: 'proj_1' }],
                  oldestSeq: 1,
                  latestSeq: 41,
                });
          case '/api/projects':
            return json([project]);
          case '/api/tasks':
            return json(tasks);
          case '/api/sessions':
            return json([session]);
          case '/api/hosts':
            return json([host]);
          case '/api/sessions/sess_1/messages':
            return json(url.searchParams.get('box') === 'sent' ? [] : inbox);
          // Who is signed in (§23): the page asks this server too; an open server's caller is its admin.
          case '/api/me':
            return json({ actor: { kind: 'admin' }, role: 'admin' });
        }
        return json({ error: true, code: 'NOT_FOUND', message: 'Route not found' }, 404);
      });
      await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
        sockets.push(ws.url());
        events = ws;
        if (sockets.length === 2) ws.send(JSON.stringify({ type: 'resync', oldestSeq: 1, latestSeq: 50 }));
      });
      await page.routeWebSocket(/\/api\/sessions\/sess_1\/terminal/, (ws) => {
        sockets.push(ws.url());
        ws.send(Buffer.from('agent says \x1b[32mhello\x1b[0m\r\n$ '));
        ws.onMessage((m) => typed.push(String(m)));
      });
    };
    const { page, problems } = await open(server, '#/p/proj_1/tree', { before: standIn });

    // §17: the socket resumes from the log's newest seq; §18: ready, claimed, blocked by and depends on.
    expect(sockets[0]).toMatch(/\/ws\?since=41$/);
    const row = (title: string) => page.locator('.tree-row').filter({ hasText: title });
    await row('Docs').getByText('ready', { exact: true }).waitFor();
    await row('Schema').getByText('claimed', { exact: true }).waitFor();
    await row('Endpoints').getByText('blocked by 1').waitFor();
    await row('Endpoints').getByText('depends on Schema').waitFor();
    push('task:updated', { ...tasks[1], status: 'todo', blockedBy: [], ready: true, updatedAt: now + 5 });
    await row('Endpoints').getByText('ready', { exact: true }).waitFor({ timeout: LIVE_MS });

    // A dropped socket comes back with since=<last seq>; a resync frame makes the page load its state again.
    const taskLoads = gets.filter((g) => g === '/api/tasks').length;
    await events!.close();
    await page.waitForFunction(() => document.querySelector('.conn')?.textContent === 'Live');
    await expect.poll(() => sockets.length).toBe(2);
    expect(sockets[1]).toMatch(/\/ws\?since=42$/);
    await expect.poll(() => gets.filter((g) => g === '/api/tasks').length).toBe(taskLoads + 1);

    // Hosts and the grouping by host.
    await page.getByRole('link', { name: 'Hosts' }).click();
    const hostRow = page.getByRole('row').filter({ hasText: 'devbox' });
    await hostRow.getByText('online').waitFor();
    await hostRow.getByText('shell, claude').waitFor();
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.locator('details summary').filter({ hasText: 'devbox' }).first().waitFor();

    // The activity feed starts from the log.
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('.feed li').filter({ hasText: 'Docs was added to Shop' }).waitFor();

    // The session page: terminal output, typed keys, the message boxes, sending, stopping.
    await page.goto(`${server.url}/#/s/sess_1`);
    await page.getByRole('status', { name: 'Terminal connected' }).waitFor();
    await page.locator('.xterm-rows').getByText('agent says hello').waitFor();
    await page.locator('.xterm-helper-textarea').focus();
    await page.keyboard.type('ls');
    await page.keyboard.press('Enter');
    await expect.poll(() => typed.join('|')).toContain('l|s|\r');
    expect(JSON.parse(typed[0]!)).toEqual({ type: 'resize', cols: 120, rows: 32 });
    // The keyboard is never trapped in the terminal: F6 leaves it for the input box.
    await page.keyboard.press('F6');
    expect(await page.evaluate(() => document.activeElement?.closest('.terminal-input') !== null)).toBe(true);
    await page.getByRole('region', { name: 'Inbox' }).getByText('Please add tests').waitFor();
    await page.getByLabel('Message to this session').fill('Also update the README');
    await page.getByRole('button', { name: 'Send message' }).click();
    await page.getByRole('region', { name: 'Inbox' }).getByText('Also update the README').waitFor({ timeout: LIVE_MS });
    expect(posted['/api/sessions/sess_1/messages']).toEqual([{ message: 'Also update the README' }]);
    await page.getByLabel('Input for the agent').fill('git status');
    await page.getByRole('button', { name: 'Send input' }).click();
    await expect.poll(() => posted['/api/sessions/sess_1/input']).toEqual([{ text: 'git status', submit: true }]);
    await page.getByRole('button', { name: 'Stop session' }).click();
    await page.getByRole('dialog', { name: 'Stop shop-api-auth?' }).getByRole('button', { name: 'Stop agent' }).click();
    await page.locator('.title-row').getByText('stopped', { exact: true }).waitFor({ timeout: LIVE_MS });
    expect(await page.getByRole('button', { name: 'Stop session' }).isDisabled()).toBe(true);

    // The spawn dialog sends every choice.
    await page.getByRole('button', { name: 'Spawn agent' }).click();
    const dialog = page.getByRole('dialog', { name: 'Spawn an agent' });
    await dialog.getByLabel('Tasks').selectOption({ label: 'Docs' });
    await dialog.getByLabel('Role').selectOption('orchestrator');
    await dialog.getByLabel('Strategy').selectOption('queue');
    await dialog.getByLabel('Host').selectOption('devbox');
    await dialog.getByLabel('Agent', { exact: true }).selectOption('claude');
    await dialog.getByLabel('Model').fill('opus');
    await dialog.getByRole('button', { name: 'Spawn' }).click();
    await expect
      .poll(() => posted['/api/sessions/spawn'])
      .toEqual([
        {
          projectId: 'proj_1',
          taskIds: ['task_c'],
          role: 'orchestrator',
          strategy: 'queue',
          spawnSource: 'ui',
          sessionName: 'Orchestrator for Docs',
          host: 'devbox',
          agent: 'claude',
          model: 'opus',
        },
      ]);
    expect(sockets.every((u) => u.startsWith(server.url.replace(/^http/, 'ws')))).toBe(true);
    expect(await problems()).toEqual([]);
    await page.close();
  });

  /* A real runner (`maestro host`, on a tmux socket of its own) and the `shell` agent: spawn from the dialog, see the
   * agent's terminal, type into it, stop it. */
  it('spawns from the dialog and shows a live terminal that takes input (runners)', async () => {
    const server = await startTestServer({ MAESTRO_MESSAGE_RATE: '0' });
    const name = `ui-${process.pid}`;
    const socket = `maestro-test-${name}`;
    const runner = spawn(process.execPath, [CLI_BIN, 'host', '--name', name, '--server', server.url], {
      env: { ...process.env, MAESTRO_TMUX_SOCKET: socket, MAESTRO_TOKEN: '', SHELL: '/bin/sh' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => runner.once('exit', resolve));
    onTestFinished(async () => {
      if (runner.exitCode === null && runner.signalCode === null) runner.kill('SIGTERM');
      await exited;
      // Also removes the socket file, which a killed tmux server leaves behind.
      await killTmuxServer(socket);
    });
    // A process that starts Node: seconds on a loaded machine.
    const hosts = await until(server.call, '/api/hosts', (all: any[]) => all.some((h) => h.status === 'online'));
    const host: { name: string; agents: string[] } = hosts.find((h: any) => h.status === 'online');
    const p = await project(server, 'Live');
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Say hello' });
    const { page, problems } = await open(server, `#/p/${p.id}`);
    await page.getByRole('button', { name: 'Spawn agent' }).click();
    const dialog = page.getByRole('dialog', { name: 'Spawn an agent' });
    await dialog.getByLabel('Tasks').selectOption({ label: 'Say hello' });
    await dialog.getByLabel('Host').selectOption(host.name);
    await dialog.getByLabel('Agent', { exact: true }).selectOption('shell');
    await dialog.getByRole('button', { name: 'Spawn' }).click();
    await page.getByRole('status', { name: 'Terminal connected' }).waitFor({ timeout: 10_000 });
    await page.locator('.xterm-helper-textarea').focus();
    // The shell preset prints the prompt, then starts the shell: type once the prompt is on the screen.
    await page.locator('.xterm-rows').getByText('maestro session info', { exact: false }).waitFor({ timeout: 10_000 });
    // Keys typed while the shell is still starting can be lost with it: type again until the shell answers.
    const answer = page.locator('.xterm-rows').getByText('ui-42', { exact: true }).first();
    for (let attempt = 0; attempt < 3 && !(await answer.isVisible()); attempt++) {
      await page.keyboard.type('echo ui-$((6*7))\n');
      await answer.waitFor({ timeout: 4000 }).catch(() => {});
    }
    await answer.waitFor({ timeout: 1000 });
    await page.getByLabel('Input for the agent').fill('echo typed-$((20+3))');
    await page.getByRole('button', { name: 'Send input' }).click();
    await page.locator('.xterm-rows').getByText('typed-23', { exact: true }).waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: 'Stop session' }).click();
    await page.getByRole('dialog', { name: 'Stop Worker for Say hello?' }).getByRole('button', { name: 'Stop agent' }).click();
    await page.getByText('stopped', { exact: true }).first().waitFor({ timeout: 5000 });
    expect(await problems()).toEqual([]);
    await page.close();
  });
});
