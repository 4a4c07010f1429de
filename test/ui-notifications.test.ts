/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeRunner, fakeRunner } from './fake-runner.js';
import { startTestServer, type TestServer, tempDir, until } from './helpers.js';
import { launchBrowser, live } from './ui-browser.js';

/*
 * The dashboard's browser notifications (contract §21): one per new `needs_input`, in real Chromium, for what waits
 * now. The page's Notification is a recorder (a headless browser shows none), its WebSocket can be held offline by the
 * test, and the runner is played over the runner protocol.
 */
let browser: Browser;
beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

/** Notifications turned on (as after pressing the button), every one recorded; `__offline` keeps the socket from connecting. */
async function notifyingPage(server: TestServer): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    const w = window as any;
    w.__shown = [];
    w.__offline = false;
    w.__sockets = [];
    localStorage.setItem('maestro-notify', '1');
    class Recorder {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      onclick: unknown = null;
      constructor(title: string, options: { body?: string; tag?: string }) {
        w.__shown.push({ title, body: options.body, tag: options.tag });
      }
      close() {}
    }
    w.Notification = Recorder;
    const Real = WebSocket;
    w.WebSocket = class extends Real {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(w.__offline ? 'ws://127.0.0.1:9/' : url, protocols);
        w.__sockets.push(this);
      }
    };
  });
  await page.goto(`${server.url}/#/sessions`);
  await live(page, 10_000);
  return page;
}

const shown = (page: Page): Promise<{ title: string; body: string; tag: string }[]> => page.evaluate(() => (window as any).__shown);

async function agent(server: TestServer, runner: FakeRunner, projectId: string, title: string) {
  const task = (await server.call('POST', '/api/tasks', { projectId, title })).body;
  const spawned = (await server.call('POST', '/api/sessions/spawn', { projectId, taskIds: [task.id], host: 'fake', agent: 'claude' })).body;
  const id: string = spawned.sessionId;
  await runner.next('launch');
  runner.send({ type: 'started', sessionId: id, pid: 1 });
  runner.send({ type: 'attention', sessionId: id, state: 'working' });
  await until(server.call, `/api/sessions/${id}`, (s) => s?.attention?.state === 'working');
  const hook = (event: string, payload: object) =>
    server.call(
      'POST',
      `/api/sessions/${id}/attention`,
      { event, payload },
      { authorization: `Bearer ${spawned.envVars.MAESTRO_SESSION_TOKEN}` },
    );
  return { id, name: spawned.session.name as string, hook };
}

describe('browser notifications of agents that need you', () => {
  it('one per new wait, none for a wait that was over before the page heard of it', { timeout: 90_000 }, async () => {
    const server = await startTestServer();
    const runner = await fakeRunner(server.url, { name: 'fake' });
    runner.ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'input') runner.send({ type: 'reply', id: m.id, ok: true });
    });
    runner.hello();
    await runner.next('welcome');
    const project = (await server.call('POST', '/api/projects', { name: 'Shop', workingDir: tempDir() })).body;
    const a = await agent(server, runner, project.id, 'Checkout');
    const b = await agent(server, runner, project.id, 'Search');
    const page = await notifyingPage(server);

    // A permission request reported by two hooks: one notification.
    await a.hook('PermissionRequest', { tool_name: 'Bash' });
    await a.hook('Notification', { message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' });
    await page
      .getByRole('region', { name: /Needs you/ })
      .getByText('Permission to use Bash')
      .waitFor({ timeout: 10_000 });
    await expect.poll(() => shown(page)).toEqual([{ title: `${a.name} needs you`, body: 'Permission to use Bash', tag: a.id }]);

    // The page loses its connection. Meanwhile b asks and is answered (elsewhere), and a is answered and asks again.
    await page.evaluate(() => {
      const w = window as any;
      w.__offline = true;
      for (const s of w.__sockets) s.close();
    });
    await page.getByRole('status', { name: /Connection: (Offline|Reconnecting)/ }).waitFor({ timeout: 10_000 });
    await b.hook('PreToolUse', { tool_name: 'AskUserQuestion', tool_input: { questions: [{ question: 'Which index?' }] } });
    expect((await server.call('POST', `/api/sessions/${b.id}/input`, { text: 'the new one' })).status).toBe(200);
    expect((await server.call('POST', `/api/sessions/${a.id}/input`, { text: 'yes' })).status).toBe(200);
    await a.hook('PreToolUse', { tool_name: 'ExitPlanMode' });
    await page.evaluate(() => void ((window as any).__offline = false));
    await live(page, 20_000);
    // Back: the replay tells both waits; only a's still holds, and that one is news.
    await page
      .getByRole('region', { name: /Needs you/ })
      .getByText('A plan is ready for your approval')
      .waitFor({ timeout: 10_000 });
    await expect
      .poll(() => shown(page))
      .toEqual([
        { title: `${a.name} needs you`, body: 'Permission to use Bash', tag: a.id },
        { title: `${a.name} needs you`, body: 'A plan is ready for your approval', tag: a.id },
      ]);

    // A reload shows who waits, without notifying again.
    await page.reload();
    await live(page, 10_000);
    await page
      .getByRole('region', { name: /Needs you/ })
      .getByText('A plan is ready for your approval')
      .waitFor({ timeout: 10_000 });
    expect(await shown(page)).toEqual([]);
    runner.ws.close();
    await page.close();
  });
});
