/// <reference lib="dom" />
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';
import { LIVE_MS, launchBrowser, live, makeProject } from './ui-browser.js';

/*
 * The dashboard at a name other than loopback (§19, §1.1): a server on a machine of the network or behind a TLS proxy
 * is opened as http://maestro.test:<port>, and every write and WebSocket of the page carries that origin. It is the
 * server's own origin, not a foreign site's, so the page must work there as it does on 127.0.0.1.
 */
const TOKEN = 'origin-test-token-1234567890';
let browser: Browser;
beforeAll(async () => {
  // Builds the dashboard if needed; this file needs its own Chromium, resolving maestro.test to loopback.
  await (await launchBrowser()).close();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--host-resolver-rules=MAP maestro.test 127.0.0.1'],
  });
}, 120_000);
afterAll(() => browser?.close());

describe('the dashboard on its own non-loopback origin', { timeout: 60_000 }, () => {
  it('goes live and saves a task, while a page of another site at that name is still refused', async () => {
    const server = await startTestServer({ MAESTRO_TOKEN: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const p = await makeProject(server, 'Remote', auth);
    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('response', (r) => r.status() === 403 && refused.push(`${r.request().method()} ${r.url()}`));
    await page.goto(`http://maestro.test:${server.port}/#/p/${p.id}`);
    const dialog = page.getByRole('dialog', { name: 'Access token' });
    await dialog.getByLabel('Token').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await live(page);

    await page.getByRole('button', { name: 'New task…' }).click();
    const create = page.getByRole('dialog', { name: 'New task' });
    await create.getByLabel('Title').fill('Made from the network');
    await create.getByRole('button', { name: 'Create task' }).click();
    await create.waitFor({ state: 'detached', timeout: LIVE_MS });
    const tasks = (await server.call('GET', `/api/tasks?projectId=${p.id}`, undefined, auth)).body;
    expect(tasks.map((t: { title: string }) => t.title)).toEqual(['Made from the network']);
    expect(refused).toEqual([]);

    // A page of another site, with the token in hand, still cannot drive the server from the browser.
    const other = await browser.newPage();
    await other.goto('about:blank');
    const status = await other.evaluate(
      async ({ url, token }) => {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
          body: JSON.stringify({ name: 'csrf' }),
        }).catch(() => undefined);
        return res?.status ?? 'blocked';
      },
      { url: `http://maestro.test:${server.port}/api/projects`, token: TOKEN },
    );
    expect(status === 403 || status === 'blocked').toBe(true);
    const projects = (await server.call('GET', '/api/projects', undefined, auth)).body;
    expect(projects.map((x: { name: string }) => x.name)).toEqual(['Remote']);
    await page.close();
    await other.close();
  });
});
