/// <reference lib="dom" />
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';
import { LIVE_MS, launchBrowser, live, makeProject, openPage } from './ui-browser.js';

/** Contract §23 in the dashboard: who is signed in, controls a viewer may not use hidden, actors in the activity feed. */
let browser: Browser;
beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

const ADMIN = 'ui-people-admin';
const auth = (t: string) => ({ authorization: `Bearer ${t}` });

describe('people in the dashboard', { timeout: 90_000 }, () => {
  it('a viewer sees who is signed in, no controls to change things, and who did what', async () => {
    const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });
    const mint = async (name: string, role: string) =>
      (await server.call('POST', '/api/tokens', { name, role }, auth(ADMIN))).body.token as string;
    const [vera, max] = [await mint('Vera', 'viewer'), await mint('Max', 'member')];
    const p = await makeProject(server, 'Team project', auth(ADMIN));

    const { page } = await openPage(browser, server, `#/p/${p.id}`, { waitLive: false });
    const dialog = page.getByRole('dialog', { name: 'Access token' });
    await dialog.waitFor();
    await page.keyboard.type(vera);
    await page.keyboard.press('Enter');
    await live(page);
    await page.getByRole('heading', { name: 'Team project' }).waitFor();
    expect(await page.getByRole('status', { name: 'Signed in as' }).textContent()).toBe('Vera (viewer)');
    expect(await page.getByRole('button', { name: 'Spawn agent' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'New task…' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Quick add task' }).count()).toBe(0);

    // Max adds a task: the viewer's board and activity feed show it, and who did it.
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Added by Max' }, auth(max));
    await page.getByText('Added by Max').first().waitFor({ timeout: LIVE_MS });
    await page.goto(`${server.url}/#/activity`);
    await live(page);
    const row = page.getByRole('list', { name: 'Activity' }).getByRole('listitem').filter({ hasText: 'Added by Max' }).first();
    await row.waitFor({ timeout: LIVE_MS });
    expect(await row.textContent()).toContain('by Max');
    expect(await page.getByRole('list', { name: 'Activity' }).getByText('by the admin').count()).toBeGreaterThan(0);

    // A session's timeline says who posted each entry; the viewer gets no stop or delete button.
    const session = (await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [], name: 'worker' }, auth(ADMIN))).body;
    await server.call('POST', `/api/sessions/${session.id}/timeline`, { type: 'progress', message: 'Max checked in' }, auth(max));
    await page.goto(`${server.url}/#/s/${session.id}`);
    await live(page);
    const entry = page.getByRole('listitem').filter({ hasText: 'Max checked in' });
    await entry.waitFor({ timeout: LIVE_MS });
    expect(await entry.textContent()).toContain('by Max');
    expect(await page.getByRole('button', { name: 'Stop session' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete session' }).count()).toBe(0);
    await page.close();
  });

  it('a member keeps the controls and sees their own name', async () => {
    const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });
    const max = (await server.call('POST', '/api/tokens', { name: 'Max', role: 'member' }, auth(ADMIN))).body.token as string;
    const p = await makeProject(server, 'Member project', auth(ADMIN));
    const { page } = await openPage(browser, server, `#/p/${p.id}`, { waitLive: false });
    await page.getByRole('dialog', { name: 'Access token' }).waitFor();
    await page.keyboard.type(max);
    await page.keyboard.press('Enter');
    await live(page);
    expect(await page.getByRole('status', { name: 'Signed in as' }).textContent()).toBe('Max (member)');
    await page.getByRole('button', { name: 'Spawn agent' }).waitFor();
    await page.getByRole('button', { name: 'New task…' }).waitFor();
    await page.close();
  });
});
