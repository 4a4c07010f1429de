/// <reference lib="dom" />
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testEnv } from './helpers.js';
import { LIVE_MS, launchBrowser, live, makeProject, openPage } from './ui-browser.js';

/** Issue 22 item 4: a stored token the server no longer takes is not a dead end (contract §1.1, §19). */
let browser: Browser;
beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

describe('a stale token', { timeout: 60_000 }, () => {
  it('is forgotten when the server restarts without one, and asked again only when the server needs another', async () => {
    const env = testEnv();
    const first = await startTestServer({ ...env, MAESTRO_TOKEN: 'old-token' });
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const p = await makeProject(first, 'Kept', auth('old-token'));
    const watched = await openPage(browser, first, `#/p/${p.id}`, { waitLive: false });
    const { page } = watched;
    const dialog = page.getByRole('dialog', { name: 'Access token' });
    // The dialog's first focus is its input, not its × button.
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('type'))).toBe('password');
    await page.keyboard.type('old-token');
    await page.keyboard.press('Enter');
    await live(page);
    await page.getByRole('heading', { name: 'Kept' }).waitFor();

    // Restarted without a token: the page comes back by itself, never asks, and forgets the token it held.
    await first.close();
    const second = await startTestServer({ ...env, PORT: String(first.port) });
    await page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout: 15_000 });
    await second.call('POST', '/api/tasks', { projectId: p.id, title: 'After the restart' });
    await page.getByText('After the restart').waitFor({ timeout: LIVE_MS });
    expect(await dialog.count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.getItem('maestro-token'))).toBeNull();
    await page.reload();
    await live(page);
    await page.getByText('After the restart').waitFor();
    expect(await dialog.count()).toBe(0);

    // Restarted with another token: asked once, saying the old one was refused; × leaves a way back, not "Loading…".
    await second.close();
    const third = await startTestServer({ ...env, PORT: String(first.port), MAESTRO_TOKEN: 'new-token' });
    await page.reload();
    await dialog.waitFor({ timeout: 15_000 });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('heading', { name: 'Access token needed' }).waitFor();
    expect(await page.getByText('Loading…').count()).toBe(0);
    const socketsWhenDeclined = watched.sockets.length;
    await page.getByRole('button', { name: 'Enter token…' }).click();
    await dialog.getByLabel('Token').fill('wrong-token');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await dialog.getByText('That token was refused.').waitFor();
    await dialog.getByLabel('Token').fill('new-token');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await live(page);
    await page.getByText('After the restart').waitFor();
    await third.call('POST', '/api/tasks', { projectId: p.id, title: 'Behind the new token' }, auth('new-token'));
    await page.getByText('Behind the new token').waitFor({ timeout: LIVE_MS });
    // No loop of refused sockets: while the dialog was closed the page tried nothing, and it needed few tries overall.
    expect(watched.sockets.length - socketsWhenDeclined).toBeLessThanOrEqual(2);
    // A loop opened ~40 in a few seconds; a few reconnects around three restarts are expected.
    expect(watched.sockets.length).toBeLessThan(16);
    expect(watched.problems(/status of 401|WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/)).toEqual([]);
    await page.close();
  });
});

describe('the API explorer at /api/docs', { timeout: 60_000 }, () => {
  it('asks for the token once and sends a request with it as a bearer header', async () => {
    const server = await startTestServer({ MAESTRO_TOKEN: 'docs-token' });
    await makeProject(server, 'Seen from the explorer', { authorization: 'Bearer docs-token' });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => new URL(r.url()).origin !== new URL(server.url).origin && errors.push(`left the origin: ${r.url()}`));
    const sent: (string | undefined)[] = [];
    page.on('request', (r) => new URL(r.url()).pathname === '/api/projects' && sent.push(r.headers().authorization));
    await page.goto(`${server.url}/api/docs`);
    const dialog = page.getByRole('dialog', { name: 'Access token' });
    await dialog.getByLabel('Token').fill('docs-token');
    await dialog.getByRole('button', { name: 'Continue' }).click();

    const operation = page
      .locator('.opblock')
      .filter({ has: page.getByText('/api/projects', { exact: true }) })
      .filter({ hasText: 'List projects' });
    await operation.getByRole('button', { name: /List projects/ }).click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.getByRole('button', { name: 'Execute' }).click();
    await operation.locator('.live-responses-table').getByText('Seen from the explorer').first().waitFor();
    expect(sent).toEqual(['Bearer docs-token']);
    // Reloaded, the tab is not asked again: it sends the token it kept, gets the description, and gives Swagger UI a
    // request interceptor that adds the token. Swagger UI is a stand-in this time that records what init.js gives it:
    // its OpenAPI 3.1 parser takes seconds of CPU per load, and the first load proved it renders.
    await page.route('**/ui/explorer/swagger-ui-bundle.js', (route) =>
      route.fulfill({
        contentType: 'text/javascript',
        body: 'window.SwaggerUIBundle = (options) => { window.explorerOptions = options; };',
      }),
    );
    const described = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/openapi.json');
    await page.reload();
    const description = await described;
    expect(description.status()).toBe(200);
    expect(description.request().headers().authorization).toBe('Bearer docs-token');
    await page.waitForFunction(() => 'explorerOptions' in window);
    const given = await page.evaluate(() => {
      const { spec, requestInterceptor } = (window as any).explorerOptions;
      return { openapi: spec.openapi, headers: requestInterceptor({ url: '/api/projects', headers: {} }).headers };
    });
    expect(given).toEqual({ openapi: '3.1.0', headers: { Authorization: 'Bearer docs-token' } });
    expect(await dialog.isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });
});
