/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from './helpers.js';
import { column, LIVE_MS, launchBrowser, live, makeProject, openPage } from './ui-browser.js';

/** Issue 22, "the dashboard as people expect it": names, inspect and delete, truthful states, small things (§19, §15). */
let browser: Browser;
let server: TestServer;
beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startTestServer()]);
}, 120_000);
afterAll(() => browser?.close());

/**
 * A stand-in runner on the real runner socket (§15.2): it reports `agents`, starts every agent it is sent and, while
 * `crash` is set, ends it at once with exit 1.
 */
async function fakeRunner(name: string, agents: string[]) {
  const control = { crash: true, close: () => ws.close() };
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/hosts/connect`);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const send = (m: object) => ws.send(JSON.stringify(m));
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw));
    if (m.type === 'launch') {
      send({ type: 'started', sessionId: m.sessionId, pid: 4242 });
      if (control.crash) send({ type: 'exited', sessionId: m.sessionId, exitCode: 1, signal: null, lastLine: 'segfault in agent' });
    }
    if (m.type === 'watch' && m.on)
      send({ type: 'output', sessionId: m.sessionId, screen: true, data: Buffer.from('last words of the agent\r\n').toString('base64') });
  });
  send({ type: 'hello', name, hostname: name, platform: 'linux', arch: 'x64', version: '1.0.0', agents, sessions: [] });
  for (let i = 0; i < 50; i++) {
    if ((await server.call('GET', `/api/hosts/${name}`)).body.status === 'online') return control;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`runner ${name} did not come online`);
}

const confirm = async (page: Page, title: string, action: string) => {
  const dialog = page.getByRole('dialog', { name: title });
  await dialog.getByRole('button', { name: action }).click();
  await dialog.waitFor({ state: 'detached' });
};

describe('dashboard views', { timeout: 60_000 }, () => {
  it('inspects a task and deletes it, edits a project and deletes it only once empty', async () => {
    const p = await makeProject(server, 'Inspect');
    const a = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Schema', description: 'Tables for orders' })).body;
    const b = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Endpoints', dependencies: [a.id] })).body;
    const s = (await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [a.id], name: 'inspect-db-schema' })).body;
    await server.call('POST', `/api/sessions/${s.id}/timeline`, { message: 'Orders table done', taskId: a.id });
    const { page, problems } = await openPage(browser, server, `#/p/${p.id}`);

    await column(page, 'To do').getByRole('link', { name: 'Schema' }).click();
    await page.getByRole('heading', { name: 'Schema', level: 1 }).waitFor();
    await page.getByText('Tables for orders').waitFor();
    await page.getByRole('region', { name: 'Needed by' }).getByRole('link', { name: 'Endpoints' }).waitFor();
    await page.getByRole('region', { name: 'Sessions' }).getByRole('link', { name: 'inspect-db-schema' }).waitFor();
    await page.getByRole('listitem').filter({ hasText: 'Orders table done' }).getByRole('link', { name: 'inspect-db-schema' }).waitFor();

    await page.getByRole('region', { name: 'Needed by' }).getByRole('link', { name: 'Endpoints' }).click();
    await page.getByRole('region', { name: 'Depends on' }).getByRole('link', { name: 'Schema' }).waitFor();
    await page.getByRole('button', { name: 'Delete task' }).click();
    // Cancel keeps it; confirming deletes it and returns to the board.
    await page.getByRole('dialog', { name: 'Delete Endpoints?' }).getByRole('button', { name: 'Cancel' }).click();
    expect((await server.call('GET', `/api/tasks/${b.id}`)).status).toBe(200);
    await page.getByRole('button', { name: 'Delete task' }).click();
    await confirm(page, 'Delete Endpoints?', 'Delete task');
    await page.getByRole('heading', { name: 'Inspect', level: 1 }).waitFor();
    expect((await server.call('GET', `/api/tasks/${b.id}`)).status).toBe(404);
    expect(await column(page, 'To do').getByText('Endpoints').count()).toBe(0);

    await page.getByRole('button', { name: 'Edit project…' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit project' });
    await edit.getByLabel('Project name').fill('Inspected');
    await edit.getByLabel('Description').fill('Orders and more');
    await edit.getByRole('button', { name: 'Save project' }).click();
    await page.getByRole('heading', { name: 'Inspected', level: 1 }).waitFor();
    await page.getByText('Orders and more').waitFor();

    // The server refuses while tasks remain, and the dialog says why.
    await page.getByRole('button', { name: 'Delete project' }).click();
    const del = page.getByRole('dialog', { name: 'Delete Inspected?' });
    await del.getByRole('button', { name: 'Delete project' }).click();
    await del
      .getByRole('alert')
      .getByText(/Cannot delete project with 1 existing task/)
      .waitFor();
    await del.getByRole('button', { name: 'Cancel' }).click();
    await server.call('DELETE', `/api/sessions/${s.id}`);
    await server.call('DELETE', `/api/tasks/${a.id}`);
    await page.getByRole('button', { name: 'Delete project' }).click();
    await confirm(page, 'Delete Inspected?', 'Delete project');
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    expect((await server.call('GET', `/api/projects/${p.id}`)).status).toBe(404);
    expect(problems(/status of 400/)).toEqual([]);
    await page.close();
  });

  it("names tasks by their titles, not their IDs, in the server's refusal", async () => {
    const p = await makeProject(server, 'Cycle');
    const a = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Schema' })).body;
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Endpoints', dependencies: [a.id] });
    const { page, problems } = await openPage(browser, server, `#/t/${a.id}`);
    await page.getByRole('button', { name: 'Edit task…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit task' });
    await dialog.getByLabel('Depends on').selectOption({ label: 'Endpoints' });
    await dialog.getByRole('button', { name: 'Save task' }).click();
    await dialog.getByRole('alert').getByText('Dependencies would form a cycle: “Schema” → “Endpoints” → “Schema”').waitFor();
    expect(await dialog.getByRole('alert').getByText('task_').count()).toBe(0);
    expect(problems(/status of 400/)).toEqual([]);
    await page.close();
  });

  it('names a spawned agent after its task or as asked, and deletes a session after asking', async () => {
    const p = await makeProject(server, 'Names');
    const login = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Login form' })).body;
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Signup form', dependencies: [login.id] });
    const { page, problems } = await openPage(browser, server, `#/p/${p.id}`);
    await page.getByRole('button', { name: 'Spawn agent' }).click();
    const dialog = page.getByRole('dialog', { name: 'Spawn an agent' });
    // A disabled Spawn says why; a blocked task says by what.
    const spawn = dialog.getByRole('button', { name: 'Spawn', exact: true });
    expect(await spawn.isDisabled()).toBe(true);
    const why = await spawn.evaluate((b) => document.getElementById(b.getAttribute('aria-describedby') ?? '')?.textContent);
    expect(why).toBe('Choose at least one task.');
    await dialog.getByRole('option', { name: 'Signup form (blocked by Login form)' }).waitFor();
    await dialog.getByLabel('Tasks').selectOption({ label: 'Login form' });
    expect(await dialog.getByLabel('Name').getAttribute('placeholder')).toBe('Worker for Login form');
    await spawn.click();
    await page.getByRole('heading', { name: 'Worker for Login form', level: 1 }).waitFor();

    await page.getByRole('button', { name: 'Spawn agent' }).click();
    await dialog.getByLabel('Tasks').selectOption({ label: 'Login form' });
    await dialog.getByLabel('Name').fill('names-web-login');
    await spawn.click();
    await page.getByRole('heading', { name: 'names-web-login', level: 1 }).waitFor();
    const id = decodeURIComponent(page.url().split('#/s/')[1]!);
    await page.getByRole('button', { name: 'Delete session' }).click();
    await confirm(page, 'Delete names-web-login?', 'Delete session');
    await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor();
    expect((await server.call('GET', `/api/sessions/${id}`)).status).toBe(404);
    expect(problems()).toEqual([]);
    await page.close();
  });

  it("starts the header's Spawn in the project of the task's or session's page", async () => {
    await makeProject(server, 'Elsewhere');
    const p = await makeProject(server, 'Here');
    const t = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Local task' })).body;
    const s = (await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [], name: 'here-worker' })).body;
    const { page, problems } = await openPage(browser, server, `#/s/${s.id}`);
    for (const hash of [`#/s/${s.id}`, `#/t/${t.id}`]) {
      await page.goto(`${server.url}/${hash}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.getByRole('banner').getByRole('button', { name: 'Spawn agent' }).click();
      const dialog = page.getByRole('dialog', { name: 'Spawn an agent' });
      expect(await dialog.getByLabel('Project').locator('option:checked').textContent(), hash).toBe('Here');
      await dialog.getByRole('option', { name: 'Local task' }).waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
    }
    expect(problems()).toEqual([]);
    await page.close();
  });

  it("offers only the host's agents, marks an offline host's sessions, and shows an ended agent's last screen", async () => {
    const runner = await fakeRunner('phone-box', ['shell']);
    const p = await makeProject(server, 'Truth');
    const t = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Crash test' })).body;
    const { page, problems } = await openPage(browser, server, `#/p/${p.id}`);
    await page.getByRole('button', { name: 'Spawn agent' }).click();
    const dialog = page.getByRole('dialog', { name: 'Spawn an agent' });
    await dialog.getByLabel('Host').selectOption('phone-box');
    const agents = await dialog.getByLabel('Agent', { exact: true }).locator('option').allTextContents();
    expect(agents).toEqual(['default', 'shell']);
    await dialog.getByLabel('Tasks').selectOption({ label: 'Crash test' });
    await dialog.getByRole('button', { name: 'Spawn', exact: true }).click();

    // The agent exited 1: its page shows the last screen and no input box.
    await page.getByRole('heading', { name: 'Worker for Crash test', level: 1 }).waitFor();
    await page.locator('.title-row').getByText('failed', { exact: true }).waitFor({ timeout: LIVE_MS });
    await page.getByRole('status', { name: 'Terminal ended' }).waitFor();
    await page.locator('.xterm-rows').getByText('last words of the agent').waitFor();
    expect(await page.getByLabel('Input for the agent').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Stop session' }).isDisabled()).toBe(true);

    // A session still working when its host goes away is marked so, on its page and in the list.
    runner.crash = false;
    const s = (
      await server.call('POST', '/api/sessions/spawn', { projectId: p.id, taskIds: [t.id], host: 'phone-box', sessionName: 'truth-late' })
    ).body;
    runner.close();
    await page.goto(`${server.url}/#/sessions`);
    await live(page);
    const row = page.getByRole('listitem').filter({ has: page.getByRole('link', { name: 'truth-late' }) });
    await row.getByText('host phone-box offline').waitFor({ timeout: LIVE_MS });
    expect(await row.getByText('run:', { exact: false }).count()).toBe(0);
    await page.goto(`${server.url}/#/s/${s.sessionId}`);
    await page.locator('.title-row').getByText('host phone-box offline').waitFor();
    await page.getByRole('button', { name: 'Stop session' }).click();
    await confirm(page, 'Stop truth-late?', 'Stop agent');
    await page.locator('.title-row').getByText('stopped', { exact: true }).waitFor({ timeout: LIVE_MS });
    expect(problems()).toEqual([]);
    await page.close();
  });

  it('tells what happened in sentences that link to what they name, with a filter', async () => {
    const p = await makeProject(server, 'Feed');
    const { page, problems } = await openPage(browser, server, '#/activity');
    const task = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Login form' })).body;
    const s = (await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [task.id], name: 'alice' })).body;
    await server.call('PATCH', `/api/tasks/${task.id}`, { status: 'completed' });
    await server.call('POST', `/api/sessions/${s.id}/timeline`, { type: 'needs_input', message: 'Which colour?' });
    const feed = page.getByRole('list', { name: 'Activity' });
    const row = (text: string) => feed.getByRole('listitem').filter({ hasText: text }).first();
    await row('Login form was added to Feed').waitFor({ timeout: LIVE_MS });
    await row('alice completed Login form').waitFor({ timeout: LIVE_MS });
    await row('alice is waiting for input: “Which colour?”').waitFor({ timeout: LIVE_MS });
    expect(await feed.getByText('task:updated').count()).toBe(0);

    await page.getByLabel('Show').selectOption({ label: 'Agents' });
    expect(await row('was added to').count()).toBe(0);
    await row('alice is waiting for input').waitFor();
    await page.getByLabel('Show').selectOption({ label: 'Everything' });
    await page.getByLabel('Search activity').fill('completed');
    expect(await row('waiting for input').count()).toBe(0);
    await row('alice completed Login form').getByRole('link', { name: 'Login form' }).click();
    await page.getByRole('heading', { name: 'Login form', level: 1 }).waitFor();
    expect(problems()).toEqual([]);
    await page.close();
  });

  it("tells an agent's wait for a person once", async () => {
    const runner = await fakeRunner('desk', ['claude']);
    runner.crash = false;
    const p = await makeProject(server, 'Once');
    const task = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Pick a colour' })).body;
    const spawned = (
      await server.call('POST', '/api/sessions/spawn', { projectId: p.id, taskIds: [task.id], host: 'desk', sessionName: 'bob' })
    ).body;
    await expect.poll(async () => (await server.call('GET', `/api/sessions/${spawned.sessionId}`)).body.run?.state).toBe('running');
    const { page, problems } = await openPage(browser, server, '#/activity');
    const feed = page.getByRole('list', { name: 'Activity' });
    // The hook both appends a `needs_input` entry (session:updated) and changes the attention (session:attention).
    const hook = await server.call(
      'POST',
      `/api/sessions/${spawned.sessionId}/attention`,
      { event: 'Notification', payload: { message: 'Which colour?' } },
      { authorization: `Bearer ${spawned.envVars.MAESTRO_SESSION_TOKEN}` },
    );
    expect(hook.status).toBe(200);
    const waiting = feed.getByRole('listitem').filter({ hasText: 'bob is waiting for input: “Which colour?”' });
    await waiting.first().waitFor({ timeout: LIVE_MS });
    await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Told after' });
    await feed.getByRole('listitem').filter({ hasText: 'Told after was added to Once' }).waitFor({ timeout: LIVE_MS });
    expect(await waiting.count()).toBe(1);
    // After a reload, from the event log, still once.
    await page.reload();
    await feed.getByRole('listitem').filter({ hasText: 'Told after was added to Once' }).waitFor({ timeout: LIVE_MS });
    expect(await waiting.count()).toBe(1);
    expect(problems()).toEqual([]);
    runner.close();
    await page.close();
  });

  it('fits a phone-wide window and has a favicon', async () => {
    const favicon = await fetch(`${server.url}/favicon.ico`);
    expect(favicon.status).toBe(200);
    expect(favicon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const { page, problems } = await openPage(browser, server, '', { width: 420 });
    for (const control of [page.getByRole('status', { name: 'Connection: Live' }), page.getByRole('button', { name: 'Spawn agent' })]) {
      const box = (await control.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(420);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    expect(problems()).toEqual([]);
    await page.close();
  });

  it('keeps long links and wide tables inside a phone-wide window', async () => {
    const runner = await fakeRunner('build-box', ['claude', 'codex', 'gemini']);
    const url = 'https://github.com/example/shop/blob/main/packages/checkout/src/payment/providers/stripe-webhooks.ts#L120';
    const p = (await server.call('POST', '/api/projects', { name: 'Narrow', workingDir: '', description: `Spec: ${url}` })).body;
    const t = (await server.call('POST', '/api/tasks', { projectId: p.id, title: 'Webhooks', description: `See ${url}` })).body;
    const s = (await server.call('POST', '/api/sessions', { projectId: p.id, taskIds: [t.id], name: 'narrow-hooks' })).body;
    await server.call('POST', `/api/sessions/${s.id}/timeline`, { type: 'progress', message: `Read ${url}` });
    const { page, problems } = await openPage(browser, server, '', { width: 390 });
    const views = { '#/hosts': 'build-box', '#/': `Spec: ${url}`, [`#/t/${t.id}`]: `See ${url}`, [`#/s/${s.id}`]: `Read ${url}` };
    for (const [hash, text] of Object.entries(views)) {
      await page.goto(`${server.url}/${hash}`);
      const shown = page.getByText(text).first();
      await shown.waitFor();
      const box = (await shown.boundingBox())!;
      expect(box.x + box.width, `${text} on ${hash}`).toBeLessThanOrEqual(390);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(390);
    }
    expect(problems()).toEqual([]);
    runner.close();
    await page.close();
  });
});
