/// <reference lib="dom" />
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, tempDir } from './helpers.js';
import { launchBrowser } from './ui-browser.js';

/*
 * The dashboard's "Needs you" (contract §21) in Debian's Chromium: an agent's hook puts its session in the list, on its
 * card and in the page title (before the page's name), live, without a reload; an answer typed in the list goes to the
 * agent's terminal. The runner is played by this test over the runner protocol, so what reaches "the agent" is exactly
 * the runner's `input` frame.
 */
/** Live means without a reload, not within a time: the bound only stops a wait for what never comes (a loaded machine). */
const LIVE_MS = 10_000;
let browser: Browser;
beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

describe('the "Needs you" list', () => {
  it('shows a waiting agent live, with its reason, and types the answer into it', { timeout: 60_000 }, async () => {
    const server = await startTestServer();
    const runner = await fakeRunner(server.url, { name: 'fake' });
    // "The agent" takes every answer typed to it.
    runner.ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'input') runner.send({ type: 'reply', id: m.id, ok: true });
    });
    runner.hello();
    const project = (await server.call('POST', '/api/projects', { name: 'Shop', workingDir: tempDir() })).body;
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Migrate the database' })).body;
    const spawned = (
      await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], host: 'fake', agent: 'claude' })
    ).body;
    const id = spawned.sessionId;
    const name: string = spawned.session.name;
    await expect.poll(() => runner.frames.some((f) => f.type === 'launch'), { timeout: 10_000 }).toBe(true);
    runner.send({ type: 'started', sessionId: id, pid: 1 });
    runner.send({ type: 'attention', sessionId: id, state: 'working' });
    await expect
      .poll(async () => (await server.call('GET', `/api/sessions/${id}`)).body.attention?.state, { timeout: 10_000 })
      .toBe('working');

    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/#/sessions`);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await expect.poll(() => page.title()).toBe('Sessions · Maestro');
    expect(await page.locator('.needs-you').count()).toBe(0);

    // The agent's hook, with the session's own token, as `maestro hook PermissionRequest` sends it.
    const hook = await server.call(
      'POST',
      `/api/sessions/${id}/attention`,
      { event: 'PermissionRequest', payload: { tool_name: 'Bash' } },
      { authorization: `Bearer ${spawned.envVars.MAESTRO_SESSION_TOKEN}` },
    );
    expect(hook.status).toBe(200);
    const list = page.getByRole('region', { name: /Needs you/ });
    await list.getByText('Permission to use Bash').waitFor({ timeout: LIVE_MS });
    await expect(list.getByRole('link', { name }).count()).resolves.toBe(1);
    await page
      .locator('.session-row', { hasText: name })
      .locator('.badge.att-needs_input', { hasText: 'needs you' })
      .waitFor({ timeout: LIVE_MS });
    await expect.poll(() => page.title(), { timeout: LIVE_MS }).toBe('(1) Sessions · Maestro');
    if (process.env.ATTENTION_SCREENSHOT) await page.screenshot({ path: process.env.ATTENTION_SCREENSHOT });
    // The project's board: the task's card carries its session's badge, and the list stays above the page.
    await page.goto(`${server.url}/#/p/${encodeURIComponent(project.id)}`);
    const card = page.locator('.task', { hasText: 'Migrate the database' });
    await card.locator('.badge.att-needs_input', { hasText: 'needs you' }).waitFor({ timeout: LIVE_MS });
    // The session's own page says so too, next to its status, and follows the answer.
    const own = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    own.on('pageerror', (e) => errors.push(e.message));
    await own.goto(`${server.url}/#/s/${encodeURIComponent(id)}`);
    const heading = own.locator('.title-row', { has: own.getByRole('heading', { name, level: 1 }) });
    await heading.getByText('needs you', { exact: true }).waitFor({ timeout: LIVE_MS });

    await list.getByRole('textbox', { name: `Answer ${name}` }).fill('yes, run it');
    await list.getByRole('button', { name: 'Send' }).click();
    await expect
      .poll(() => runner.frames.find((f) => f.type === 'input'), { timeout: 10_000 })
      .toMatchObject({ sessionId: id, text: 'yes, run it', submit: true });
    // Answered: the agent works again, and the list empties.
    await page.locator('.needs-you').waitFor({ state: 'detached', timeout: LIVE_MS });
    await card.locator('.badge.att-working', { hasText: 'working' }).waitFor({ timeout: LIVE_MS });
    expect(await card.locator('.badge.att-needs_input').count()).toBe(0);
    await heading.getByText('agent working', { exact: true }).waitFor({ timeout: LIVE_MS });
    expect(await heading.getByText('needs you').count()).toBe(0);
    await own.close();
    await expect.poll(() => page.title(), { timeout: LIVE_MS }).toBe('Shop · Maestro');
    expect(errors).toEqual([]);
    runner.ws.close();
    await page.close();
  });

  it('asks for notification permission only when the button is pressed', { timeout: 60_000 }, async () => {
    const server = await startTestServer();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      (window as any).__asked = 0;
      const original = Notification.requestPermission.bind(Notification);
      Notification.requestPermission = () => {
        (window as any).__asked++;
        return original();
      };
    });
    await page.goto(`${server.url}/#/`);
    const button = page.getByRole('button', { name: 'Turn on notifications' });
    await button.waitFor();
    expect(await page.evaluate(() => (window as any).__asked)).toBe(0);
    await context.grantPermissions(['notifications'], { origin: new URL(server.url).origin });
    await button.click();
    await page.getByRole('button', { name: 'Notifications on' }).waitFor();
    expect(await page.evaluate(() => (window as any).__asked)).toBe(1);
    await context.close();
  });
});
