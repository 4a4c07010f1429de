/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, type TestServer } from './helpers.js';
import { LIVE_MS, launchBrowser, live, makeProject, openPage } from './ui-browser.js';

/**
 * Roles in every dashboard view (issue 20): a viewer meets no control it could not use, a member has them all, and an
 * admin manages people's tokens on a screen of its own. The token never shows in the address bar.
 */
let browser: Browser;
beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

const ADMIN = 'ui-roles-admin-token';
const auth = (t: string) => ({ authorization: `Bearer ${t}` });
/** A button that changes something: what a viewer must never be offered. */
const WRITE = /edit|delete|complete|spawn|stop|send|merge|remove|new task|add|create|revoke|claim/i;

async function world() {
  const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });
  const mint = async (name: string, role: string) =>
    (await server.call('POST', '/api/tokens', { name, role }, auth(ADMIN))).body.token as string;
  const project = await makeProject(server, 'Roles project', auth(ADMIN));
  const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Write the docs' }, auth(ADMIN))).body;
  // A fake runner runs the task's agent, which then asks for permission: the "Needs you" list (on every page)
  // offers an answer box to those who may type.
  const runner = await fakeRunner(server.url, { name: 'fake', headers: auth(ADMIN) });
  runner.hello();
  await expect.poll(async () => (await server.call('GET', '/api/hosts/fake', undefined, auth(ADMIN))).body.status).toBe('online');
  const spawned = await server.call(
    'POST',
    '/api/sessions/spawn',
    { projectId: project.id, taskIds: [task.id], host: 'fake', agent: 'claude' },
    auth(ADMIN),
  );
  expect(spawned.status, JSON.stringify(spawned.body)).toBe(201);
  const session = spawned.body.session as { id: string; name: string };
  await runner.next('launch');
  runner.send({ type: 'started', sessionId: session.id, pid: 1 });
  runner.send({ type: 'attention', sessionId: session.id, state: 'needs_input', reason: 'Permission to use Bash' });
  await expect
    .poll(async () => (await server.call('GET', `/api/sessions/${session.id}`, undefined, auth(ADMIN))).body.attention?.state)
    .toBe('needs_input');
  return { server, mint, project, task, session };
}

/** Opens the dashboard at `hash` and signs in with `token` through its dialog, as a person does. */
async function signIn(server: TestServer, hash: string, token: string, permissions?: string[]): Promise<Page> {
  const { page } = await openPage(browser, server, hash, { waitLive: false, permissions });
  await page.getByRole('dialog', { name: 'Access token' }).waitFor();
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await live(page);
  // Signed in: the token is in no URL the page shows or keeps.
  expect(page.url()).not.toContain(token);
  expect(await page.evaluate(() => `${location.href} ${history.length}`)).not.toContain(token);
  return page;
}

/** The names of the write controls on the page as it is now. */
const writeButtons = async (page: Page) =>
  (
    await page.getByRole('button').evaluateAll((els) => els.map((e) => (e.getAttribute('aria-label') ?? e.textContent ?? '').trim()))
  ).filter((name) => WRITE.test(name));

describe('controls follow the role in every view (§23)', { timeout: 120_000 }, () => {
  it('a viewer gets no write control anywhere, the task detail view included; a member gets them', async () => {
    const { server, mint, project, task, session } = await world();
    const [vera, max] = [await mint('Vera', 'viewer'), await mint('Max', 'member')];

    const page = await signIn(server, `#/t/${task.id}`, vera);
    await page.getByRole('heading', { name: 'Write the docs' }).waitFor();
    await page
      .getByRole('region', { name: /Needs you/ })
      .getByText('Permission to use Bash')
      .waitFor();
    expect(await page.getByRole('status', { name: 'Signed in as' }).textContent()).toBe('Vera (viewer)');
    const views: [string, string][] = [
      [`#/t/${task.id}`, 'Write the docs'],
      ['#/', 'Projects'],
      [`#/p/${project.id}`, 'Roles project'],
      [`#/p/${project.id}/tree`, 'Roles project'],
      ['#/sessions', 'Sessions'],
      [`#/s/${session.id}`, session.name],
      ['#/hosts', 'Hosts'],
      ['#/activity', 'Activity'],
    ];
    for (const [hash, heading] of views) {
      await page.goto(`${server.url}/${hash}`);
      await live(page);
      await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
      expect(await writeButtons(page), hash).toEqual([]);
      expect(await page.getByRole('textbox', { name: /message|answer|title/i }).count(), hash).toBe(0);
    }
    expect(await page.getByRole('link', { name: 'People' }).count()).toBe(0);
    // The live terminal takes no keys from a viewer (the server would drop them) and does not invite any.
    await page.goto(`${server.url}/#/s/${session.id}`);
    await live(page);
    const viewerKeys = page.getByRole('textbox', { name: 'Terminal input' });
    await viewerKeys.waitFor({ state: 'attached', timeout: LIVE_MS });
    expect(await viewerKeys.getAttribute('readonly')).not.toBeNull();
    await page.getByText('You are watching: your role (viewer) does not type into agents.').waitFor();
    expect(await page.getByText('Keys typed in the terminal go to the agent').count()).toBe(0);
    await page.close();

    const member = await signIn(server, `#/t/${task.id}`, max);
    await member.getByRole('heading', { name: 'Write the docs' }).waitFor();
    await member.getByRole('textbox', { name: `Answer ${session.name}` }).waitFor();
    for (const name of ['Edit task…', 'Spawn agent for this task…', 'Delete task'])
      await member.getByRole('button', { name }).waitFor({ timeout: LIVE_MS });
    await member.goto(`${server.url}/#/p/${project.id}`);
    await live(member);
    await member.getByRole('button', { name: 'Complete Write the docs' }).waitFor();
    await member.goto(`${server.url}/#/s/${session.id}`);
    await live(member);
    await member.getByRole('button', { name: 'Send message' }).waitFor();
    await member.getByRole('button', { name: 'Stop session' }).waitFor();
    const memberKeys = member.getByRole('textbox', { name: 'Terminal input' });
    await memberKeys.waitFor({ state: 'attached', timeout: LIVE_MS });
    expect(await memberKeys.getAttribute('readonly')).toBeNull();
    await member.getByText('Keys typed in the terminal go to the agent').waitFor();
    // A member does not manage tokens: no link to the screen, and the screen itself says so.
    expect(await member.getByRole('link', { name: 'People' }).count()).toBe(0);
    await member.goto(`${server.url}/#/people`);
    await live(member);
    await member.getByRole('alert').filter({ hasText: "Only an admin manages people's tokens" }).waitFor();
    expect(await member.getByRole('button', { name: 'Create token' }).count()).toBe(0);
    await member.close();
  });
});

describe("the admin's token screen (§23)", { timeout: 120_000 }, () => {
  it('an admin creates a token, sees its secret once, copies it, revokes it; the list follows live', async () => {
    const { server } = await world();
    const page = await signIn(server, '', ADMIN, ['clipboard-read', 'clipboard-write']);
    await page.getByRole('link', { name: 'People' }).click();
    await page.getByRole('heading', { name: 'People' }).waitFor();
    expect(page.url()).toMatch(/#\/people$/);

    await page.getByLabel('Name').fill('Alice');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('textbox', { name: 'New token' });
    await shown.waitFor({ timeout: LIVE_MS });
    const secret = await shown.inputValue();
    expect(secret).toMatch(/^mpt_/);
    // It is Alice's real token, with her role.
    expect((await server.call('GET', '/api/me', undefined, auth(secret))).body).toMatchObject({ role: 'viewer', actor: { name: 'Alice' } });

    await page.getByRole('button', { name: 'Copy token' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    const rows = page.getByRole('table', { name: 'Tokens' }).getByRole('row');
    await rows.filter({ hasText: 'Alice' }).waitFor();
    expect(await rows.filter({ hasText: 'Alice' }).textContent()).toContain('viewer');

    // Shown once: after Done, the page no longer holds it anywhere.
    await page.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);
    expect(page.url()).not.toContain(secret);

    // Another admin's new token appears live.
    await server.call('POST', '/api/tokens', { name: 'Bob', role: 'member' }, auth(ADMIN));
    await rows.filter({ hasText: 'Bob' }).waitFor({ timeout: LIVE_MS });

    // Revoking asks first, then the row goes and the token stops working.
    await page.getByRole('button', { name: 'Revoke Alice' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke the token of Alice?' });
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await rows.filter({ hasText: 'Alice' }).waitFor({ state: 'detached', timeout: LIVE_MS });
    expect((await server.call('GET', '/api/projects', undefined, auth(secret))).status).toBe(401);
    await rows.filter({ hasText: 'Bob' }).waitFor();

    // Bob's token revoked elsewhere leaves the list live too.
    const bob = ((await server.call('GET', '/api/tokens', undefined, auth(ADMIN))).body as { id: string; name: string }[]).find(
      (t) => t.name === 'Bob',
    )!;
    await server.call('DELETE', `/api/tokens/${bob.id}`, undefined, auth(ADMIN));
    await page.getByText('No person has a token yet.').waitFor({ timeout: LIVE_MS });
    await page.close();
  });
});
