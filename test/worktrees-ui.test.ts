/// <reference lib="dom" />
// The dashboard's Changes view (contract §20.6) in Debian's Chromium: files, coloured diff, Merge, Remove, refusals.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startTestServer, tempDir, until } from './helpers.js';
import { launchBrowser } from './ui-browser.js';
import { git, makeRepo, spawnAndWait, startRunner } from './worktree-helpers.js';

let browser: Browser;
beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

describe('the Changes view', { timeout: 180_000 }, async () => {
  const server = await startTestServer();
  const { call } = server;
  startRunner(server.url, 'ui-wt', join(tempDir('maestro-wt-ui-'), 'worktrees'));
  await until(call, '/api/hosts/ui-wt', (h) => h?.status === 'online');
  const repo = makeRepo();
  const project = (await call('POST', '/api/projects', { name: 'Web app', workingDir: repo })).body;

  it('lists the files with counts, colours the diff, merges with the chosen strategy', async () => {
    const s = await spawnAndWait(call, project.id, 'Add the feature WT:work', { host: 'ui-wt' });
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/#/s/${s.id}`);
    const changes = page.getByRole('region', { name: 'Changes' });
    const files = changes.getByRole('table', { name: 'Changed files' });
    await expect.poll(() => files.locator('tr').count(), { timeout: 20_000 }).toBe(3);
    expect(await files.locator('tr', { hasText: 'feature.txt' }).textContent()).toMatch(/added\s*feature\.txt\s*\+2\s*−0/);
    const added = changes.locator('.patch .d-add', { hasText: '+feature line 1' });
    expect(await added.count()).toBe(1);
    expect(await added.evaluate((el) => getComputedStyle(el).color)).not.toBe(
      await changes.locator('.patch').evaluate((el) => getComputedStyle(el).color),
    );
    if (process.env.UPDATE_SCREENSHOT) await changes.screenshot({ path: join(ROOT, 'docs/worktrees.png') });
    await changes.getByLabel('Strategy').selectOption('merge');
    await changes.getByRole('button', { name: 'Merge into main' }).click();
    await expect
      .poll(() => changes.getByRole('status').textContent(), { timeout: 20_000 })
      .toMatch(/^Merged into main \(merge\): [0-9a-f]{12}$/);
    expect(git(repo, 'rev-list', '--parents', '-1', 'main').split(' ')).toHaveLength(3);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('warns of a conflict before Merge, shows the conflict and a removal refusal with what to do', async () => {
    const s = await spawnAndWait(call, project.id, 'Rewrite README WT:conflict', { host: 'ui-wt' });
    writeFileSync(join(repo, 'README.md'), 'main rewrote it\n');
    git(repo, 'commit', '-q', '-a', '-m', 'main: README');
    const page = await browser.newPage();
    await page.goto(`${server.url}/#/s/${s.id}`);
    const changes = page.getByRole('region', { name: 'Changes' });
    await expect
      .poll(
        () =>
          changes
            .getByRole('note')
            .textContent()
            .catch(() => ''),
        { timeout: 20_000 },
      )
      .toBe('Would conflict with main: README.md');
    await changes.getByRole('button', { name: 'Merge into main' }).click();
    const alert = changes.getByRole('alert');
    await expect.poll(() => alert.textContent().catch(() => ''), { timeout: 20_000 }).toContain('MERGE_CONFLICT');
    expect(await alert.getByRole('list', { name: 'Files' }).textContent()).toBe('README.md');
    await changes.getByRole('button', { name: 'Remove worktree' }).click();
    await expect.poll(() => alert.textContent().catch(() => ''), { timeout: 20_000 }).toContain('WORKSPACE_DIRTY');
    expect(await alert.textContent()).toContain('not in the base branch: 0 uncommitted, 0 untracked, 1 unmerged commit(s)');
    await changes.getByRole('button', { name: 'Remove anyway (archived first)' }).click();
    await expect
      .poll(() => changes.textContent(), { timeout: 20_000 })
      .toContain(`The worktree was removed; its state is kept as refs/maestro/archive/${s.id}.`);
    expect(existsSync(s.workspace.path)).toBe(false);
    await page.close();
  });

  it('a refused merge shows why and never offers "Remove anyway"; the same Merge works once the checkout is free', async () => {
    const s = await spawnAndWait(call, project.id, 'Locked out', { host: 'ui-wt' });
    writeFileSync(join(s.workspace.path, 'locked-out.txt'), 'work\n');
    // Another git process holds the main checkout's index (a person's commit, an editor): the checkout cannot move.
    const lock = join(repo, '.git', 'index.lock');
    writeFileSync(lock, '');
    const page = await browser.newPage();
    await page.goto(`${server.url}/#/s/${s.id}`);
    const changes = page.getByRole('region', { name: 'Changes' });
    await changes.getByRole('table', { name: 'Changed files' }).getByText('locked-out.txt').waitFor({ timeout: 20_000 });
    await changes.getByRole('button', { name: 'Merge into main' }).click();
    const alert = changes.getByRole('alert');
    await expect.poll(() => alert.textContent().catch(() => ''), { timeout: 20_000 }).toContain('index.lock');
    expect(await changes.getByRole('button', { name: 'Remove anyway (archived first)' }).count()).toBe(0);
    expect(existsSync(s.workspace.path)).toBe(true);
    rmSync(lock);
    await changes.getByRole('button', { name: 'Merge into main' }).click();
    await expect
      .poll(() => changes.getByRole('status').textContent(), { timeout: 20_000 })
      .toMatch(/^Merged into main \(squash\): [0-9a-f]{12}$/);
    expect(git(repo, 'show', 'main:locked-out.txt')).toBe('work');
    await page.close();
  });

  it('a worktree and branch deleted by hand: the diff says so, and Remove says nothing was left to keep', async () => {
    const s = await spawnAndWait(call, project.id, 'Cleaned up by hand WT:work', { host: 'ui-wt' });
    git(repo, 'worktree', 'remove', '--force', s.workspace.path);
    git(repo, 'branch', '-D', s.workspace.branch);
    const page = await browser.newPage();
    await page.goto(`${server.url}/#/s/${s.id}`);
    const changes = page.getByRole('region', { name: 'Changes' });
    await expect
      .poll(
        () =>
          changes
            .getByRole('alert')
            .textContent()
            .catch(() => ''),
        { timeout: 20_000 },
      )
      .toBe(`NO_WORKSPACE: The worktree ${s.workspace.path} no longer exists (removed outside Maestro)`);
    await changes.getByRole('button', { name: 'Remove worktree' }).click();
    await expect
      .poll(() => changes.getByRole('status').textContent(), { timeout: 20_000 })
      .toBe('Worktree removed; nothing was left to keep');
    await expect.poll(() => changes.textContent(), { timeout: 20_000 }).toContain('The worktree was removed; nothing was left to keep.');
    expect(await changes.getByRole('alert').count()).toBe(0);
    await page.close();
  });

  it('colours a removed "-- comment" and an added "++i" as changes, not as file headers', async () => {
    const sql = makeRepo('sql');
    writeFileSync(join(sql, 'q.sql'), '-- a comment\nselect 1;\n');
    git(sql, 'add', '--', 'q.sql');
    git(sql, 'commit', '-q', '-m', 'sql');
    const other = (await call('POST', '/api/projects', { name: 'Queries', workingDir: sql })).body;
    const s = await spawnAndWait(call, other.id, 'Queries', { host: 'ui-wt' });
    writeFileSync(join(s.workspace.path, 'q.sql'), 'select 1;\n++i;\n');
    const page = await browser.newPage();
    await page.goto(`${server.url}/#/s/${s.id}`);
    const patch = page.getByRole('region', { name: 'Changes' }).locator('.patch');
    const classOf = (text: string) => patch.locator('span', { hasText: text }).getAttribute('class');
    await expect.poll(() => classOf('--- a comment').catch(() => null), { timeout: 20_000 }).toBe('d-del');
    expect(await classOf('+++i;')).toBe('d-add');
    expect(await classOf('--- a/q.sql')).toBe('d-file');
    expect(await classOf('+++ b/q.sql')).toBe('d-file');
    await page.close();
  });

  it('follows a running agent: files it changes appear without a Refresh', async () => {
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Keep going WT:wait' })).body;
    const spawned = await call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      agent: 'custom',
      host: 'ui-wt',
    });
    const s = await until(call, `/api/sessions/${spawned.body.sessionId}`, (x) => x.run?.state === 'running' && x.workspace);
    const page = await browser.newPage();
    await page.goto(`${server.url}/#/s/${s.id}`);
    const changes = page.getByRole('region', { name: 'Changes' });
    await changes.getByText('No changes.').waitFor({ timeout: 20_000 });
    // The agent writes a file and says so in its terminal (here: typed input it echoes).
    writeFileSync(join(s.workspace.path, 'live.txt'), 'written while you watch\n');
    expect((await call('POST', `/api/sessions/${s.id}/input`, { text: 'wrote live.txt' })).status).toBe(200);
    const files = changes.getByRole('table', { name: 'Changed files' });
    await expect.poll(() => files.textContent(), { timeout: 10_000 }).toMatch(/added\s*live\.txt\s*\+1/);
    await call('POST', `/api/sessions/${s.id}/stop`, {});
    await page.close();
  });

  it('clears a refusal to read the diff once a Refresh reads it (the host came back)', async () => {
    const root = join(tempDir('maestro-wt-ui-'), 'worktrees');
    let runner = startRunner(server.url, 'ui-wt2', root);
    await until(call, '/api/hosts/ui-wt2', (h) => h?.status === 'online');
    const s = await spawnAndWait(call, project.id, 'Offline for a while WT:work', { host: 'ui-wt2' });
    await runner.stop();
    await until(call, '/api/hosts/ui-wt2', (h) => h?.status === 'offline');
    const page = await browser.newPage();
    await page.goto(`${server.url}/#/s/${s.id}`);
    const changes = page.getByRole('region', { name: 'Changes' });
    await expect.poll(() => changes.getByRole('alert').textContent(), { timeout: 20_000 }).toContain('HOST_OFFLINE');
    runner = startRunner(server.url, 'ui-wt2', root);
    await until(call, '/api/hosts/ui-wt2', (h) => h?.status === 'online');
    await changes.getByRole('button', { name: 'Refresh' }).click();
    const files = changes.getByRole('table', { name: 'Changed files' });
    // The diff is read (its table is there, rows or not: earlier tests merged the same work into main).
    await files.waitFor({ state: 'attached', timeout: 20_000 });
    expect(await changes.getByRole('alert').count()).toBe(0);
    await page.close();
  });

  it("keeps every file's counts in view at 390 px, however long its path", async () => {
    const s = await spawnAndWait(call, project.id, 'Deep file', { host: 'ui-wt' });
    const deep = 'src/components/a-rather-long-directory-name/AnExtremelyLongComponentFileNameWithoutBreaks.tsx';
    mkdirSync(join(s.workspace.path, 'src/components/a-rather-long-directory-name'), { recursive: true });
    writeFileSync(join(s.workspace.path, deep), 'x\n');
    const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
    await page.goto(`${server.url}/#/s/${s.id}`);
    const row = page.getByRole('table', { name: 'Changed files' }).locator('tr', { hasText: 'AnExtremelyLong' });
    await row.waitFor({ timeout: 20_000 });
    const counts = await row.locator('td.d-del').boundingBox();
    expect(counts!.x + counts!.width).toBeLessThanOrEqual(390);
    expect(await row.locator('td.d-add').textContent()).toBe('+1');
    await page.close();
  });
});
