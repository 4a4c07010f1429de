/// <reference lib="dom" />
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, type TestServer } from './helpers.js';
import { LIVE_MS, launchBrowser, makeProject, openPage } from './ui-browser.js';

/** Rough edges a review in Chromium found: what the page says, where it puts focus, how it is laid out. */
let browser: Browser;
let server: TestServer;
beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startTestServer()]);
}, 120_000);
afterAll(() => browser?.close());

const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return (el as HTMLInputElement | null)?.labels?.[0]?.textContent ?? el?.textContent ?? '';
  });

const box = async (page: Page, selector: string) => (await page.locator(selector).first().boundingBox())!;

describe('dashboard polish', { timeout: 60_000 }, () => {
  it('lays the People page out like the other pages: text under the heading, the form on the left', async () => {
    // A server of its own, so the Projects page says "No projects yet." right under its heading, as People does.
    const { page, problems } = await openPage(browser, await startTestServer(), '#/');
    await page.getByText('No projects yet.').waitFor();
    const projectsGap = (await box(page, 'main h1 + p')).y - (await box(page, 'main h1')).y;
    await page.getByRole('link', { name: 'People' }).click();
    await page.getByRole('heading', { name: 'People', level: 1 }).waitFor();
    const heading = await box(page, 'main h1');
    expect((await box(page, 'main h1 + p')).y - heading.y).toBeCloseTo(projectsGap, 0);
    const form = page.getByRole('form', { name: 'Create a token' });
    expect((await form.getByLabel('Name').boundingBox())!.x).toBeCloseTo(heading.x, 0);
    const button = (await form.getByRole('button', { name: 'Create token' }).boundingBox())!;
    expect(button.x + button.width).toBeLessThan(page.viewportSize()!.width / 2);
    expect(problems()).toEqual([]);
    await page.close();
  });

  it('puts focus on the first field of a dialog, and back on the button that opened it after Escape', async () => {
    const p = await makeProject(server, 'Focus');
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Focus task' });
    const { page, problems } = await openPage(browser, server, `#/p/${p.id}`);
    const opened = [
      ['New task…', 'New task', 'Title'],
      ['Edit project…', 'Edit project', 'Project name'],
      ['Spawn for this project…', 'Spawn an agent', 'Project'],
    ];
    for (const [button, title, field] of opened) {
      await page.getByRole('button', { name: button }).click();
      const dialog = page.getByRole('dialog', { name: title });
      await dialog.waitFor();
      expect(await focused(page), title).toBe(field);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      expect(await focused(page), title).toBe(button);
    }
    // A question before a deletion has no field: its safe answer has the focus, as before.
    await page.getByRole('button', { name: 'Delete project' }).click();
    await page.getByRole('dialog', { name: 'Delete Focus?' }).waitFor();
    expect(await focused(page)).toBe('Cancel');
    await page.keyboard.press('Escape');
    expect(problems()).toEqual([]);
    await page.close();
  });

  it('says an entity that does not exist is gone, with a link back to its list', async () => {
    const { page, problems } = await openPage(browser, server, '#/sessions');
    const gone = [
      ['#/s/sess_gone', 'session', 'Sessions'],
      ['#/t/task_gone', 'task', 'Projects'],
      ['#/p/proj_gone', 'project', 'Projects'],
    ];
    for (const [hash, what, list] of gone) {
      await page.goto(`${server.url}/${hash}`);
      await page
        .getByRole('alert')
        .filter({ hasText: `This ${what} no longer exists.` })
        .waitFor();
      await page
        .getByRole('main')
        .getByRole('link', { name: `Back to ${list}` })
        .click();
      await page.getByRole('heading', { name: list, level: 1 }).waitFor();
    }
    expect(problems()).toEqual([]);
    await page.close();
  });

  it('names the page in the tab title, and follows a rename', async () => {
    const p = await makeProject(server, 'Titles');
    const t = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Title task' })).body;
    const s = (await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [t.id], name: 'title-worker' })).body;
    const { page, problems } = await openPage(browser, server, '#/');
    const titles = {
      '#/': 'Projects · Maestro',
      [`#/p/${p.id}`]: 'Titles · Maestro',
      [`#/p/${p.id}/tree`]: 'Titles · Maestro',
      [`#/t/${t.id}`]: 'Title task · Maestro',
      [`#/s/${s.id}`]: 'title-worker · Maestro',
      '#/sessions': 'Sessions · Maestro',
      '#/hosts': 'Hosts · Maestro',
      '#/activity': 'Activity · Maestro',
      '#/people': 'People · Maestro',
      '#/s/sess_gone': 'Session not found · Maestro',
    };
    for (const [hash, title] of Object.entries(titles)) {
      await page.goto(`${server.url}/${hash}`);
      await expect.poll(() => page.title(), { timeout: LIVE_MS }).toBe(title);
    }
    await page.goto(`${server.url}/#/p/${p.id}`);
    await server.call('PUT', `/api/projects/${p.id}`, { name: 'Renamed titles' });
    await expect.poll(() => page.title(), { timeout: LIVE_MS }).toBe('Renamed titles · Maestro');
    expect(problems()).toEqual([]);
    await page.close();
  });

  it("tells a session's status from its agent's attention when both say idle", async () => {
    const runner = await fakeRunner(server.url, { name: 'idle-box' });
    runner.hello();
    await expect.poll(async () => (await server.call('GET', '/api/hosts/idle-box')).body.status).toBe('online');
    const p = await makeProject(server, 'Idle');
    const t = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Rest' })).body;
    const body = { projectId: p.id, taskIds: [t.id], host: 'idle-box', sessionName: 'idle-one' };
    const spawned = (await server.call('POST', '/api/sessions/spawn', body)).body;
    const id = spawned.sessionId;
    await runner.next('launch');
    runner.send({ type: 'started', sessionId: id, pid: 7 });
    runner.send({ type: 'attention', sessionId: id, state: 'idle' });
    await expect
      .poll(async () => {
        const s = (await server.call('GET', `/api/sessions/${id}`)).body;
        return `${s.status} ${s.attention?.state}`;
      })
      .toBe('idle idle');
    const { page, problems } = await openPage(browser, server, '#/sessions');
    const badges = async (where: Locator) => {
      await where.locator('.badge.att-idle', { hasText: 'agent idle' }).waitFor({ timeout: LIVE_MS });
      // Text, hover text, and outline: the attention badge is outlined, status badges are not.
      return where
        .locator('.badge')
        .evaluateAll((els) => els.map((e) => `${e.textContent}|${e.getAttribute('title') ?? ''}|${getComputedStyle(e).borderTopStyle}`));
    };
    const attention = "Attention: the agent finished its turn and waits for its next instruction. Not the session's status.";
    const row = page.locator('.session-row', { has: page.getByRole('link', { name: 'idle-one' }) });
    expect(await badges(row)).toEqual(['idle||none', `agent idle|${attention}|solid`, 'claude||none']);
    await page.goto(`${server.url}/#/s/${id}`);
    expect(await badges(page.locator('.title-row'))).toEqual(['idle||none', `agent idle|${attention}|solid`]);
    expect(problems()).toEqual([]);
    runner.ws.close();
    await page.close();
  });

  it('says an agent waiting on an offline host cannot be answered, before anyone types', async () => {
    const runner = await fakeRunner(server.url, { name: 'away-box' });
    runner.hello();
    await expect.poll(async () => (await server.call('GET', '/api/hosts/away-box')).body.status).toBe('online');
    const p = await makeProject(server, 'Away');
    const t = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Ask first' })).body;
    const body = { projectId: p.id, taskIds: [t.id], host: 'away-box', sessionName: 'away-one' };
    const id = (await server.call('POST', '/api/sessions/spawn', body)).body.sessionId;
    await runner.next('launch');
    runner.send({ type: 'started', sessionId: id, pid: 8 });
    runner.send({ type: 'attention', sessionId: id, state: 'needs_input', reason: 'Permission to use Bash' });
    const { page, problems } = await openPage(browser, server, '#/');
    const item = page
      .getByRole('region', { name: /Needs you/ })
      .getByRole('listitem')
      .filter({ hasText: 'away-one' });
    const box = item.getByRole('textbox', { name: 'Answer away-one' });
    await item.getByText('Permission to use Bash').waitFor({ timeout: LIVE_MS });
    expect(await box.isDisabled()).toBe(false);

    runner.ws.close();
    await item.getByText('host away-box offline').waitFor({ timeout: LIVE_MS });
    expect(await box.isDisabled()).toBe(true);
    expect(await item.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    const why = await box.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent);
    expect(why).toBe('away-box is offline: the answer can be typed once it reconnects.');
    await item.getByText(why!).waitFor();
    expect(problems()).toEqual([]);
    await page.close();
  });

  it('shows a task another agent holds in the Spawn dialog but does not let it be chosen, and says why before Spawn', async () => {
    const p = await makeProject(server, 'Claims');
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Free task' });
    const held = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Held task' })).body;
    const holder = (await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [], name: 'holder-one' })).body;
    expect((await server.call('POST', `/api/tasks/${held.id}/claim`, { sessionId: holder.id })).status).toBe(200);
    const { page, problems } = await openPage(browser, server, `#/t/${held.id}`);
    await page.getByRole('button', { name: 'Spawn agent for this task…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Spawn an agent' });
    const option = dialog.getByRole('option', { name: 'Held task (taken by holder-one)' });
    await option.waitFor();
    expect(await option.isDisabled()).toBe(true);
    const spawn = dialog.getByRole('button', { name: 'Spawn', exact: true });
    expect(await spawn.isDisabled()).toBe(true);
    // The reason sits on the buttons' row, before them, where the eye goes to press Spawn.
    const reason = async () => {
      const why = page.locator(`#${await spawn.getAttribute('aria-describedby')}`);
      const [w, b] = [(await why.boundingBox())!, (await spawn.boundingBox())!];
      expect(w.x + w.width).toBeLessThanOrEqual(b.x);
      expect(w.y + w.height / 2).toBeGreaterThan(b.y);
      expect(w.y + w.height / 2).toBeLessThan(b.y + b.height);
      expect(
        await why.evaluate(
          (el, button) => !!(el.compareDocumentPosition(button!) & Node.DOCUMENT_POSITION_FOLLOWING),
          await spawn.elementHandle(),
        ),
      ).toBe(true);
      return why.textContent();
    };
    expect(await reason()).toBe('Held task is taken by holder-one: choose another task.');
    await dialog.getByLabel('Tasks').selectOption({ label: 'Free task' });
    expect(await spawn.isDisabled()).toBe(false);
    expect(await spawn.getAttribute('aria-describedby')).toBeNull();
    await dialog.getByLabel('Tasks').selectOption([]);
    expect(await reason()).toBe('Choose at least one task.');
    expect(problems()).toEqual([]);
    await page.close();
  });
});
