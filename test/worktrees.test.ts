// Workspaces (contract §20) end to end: a real server, a `maestro host` runner in tmux, real repositories, a fake agent.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer, tempDir, until } from './helpers.js';
import { git, makeRepo, repoState, spawnAndWait, startRunner } from './worktree-helpers.js';

const SLOW = { timeout: 180_000 };

describe('a worktree per agent: creation, diff, merge, removal', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const root = join(tempDir('maestro-wt-root-'), 'worktrees');
  startRunner(server.url, 'wt', root);
  await until(call, '/api/hosts/wt', (h) => h?.status === 'online');
  const repo = makeRepo();
  const project = (await call('POST', '/api/projects', { name: 'Repo', workingDir: repo, workspace: { copy: ['.env', 'missing.txt'] } }))
    .body;
  const spawn = (title: string, extra: Record<string, unknown> = {}) => spawnAndWait(call, project.id, title, { host: 'wt', ...extra });

  it('creates the worktree on its own branch, copies .env, starts the agent in it, leaves the main checkout alone', async () => {
    const mainBefore = git(repo, 'rev-parse', 'main');
    const s = await spawn('Add feature WT:work');
    expect(s.status).toBe('completed');
    const ws = s.workspace;
    expect(ws).toMatchObject({ mode: 'worktree', baseBranch: 'main', baseCommit: mainBefore, repoPath: repo, state: 'active' });
    expect(ws.branch).toBe(`maestro/add-feature-wt-work-${s.id.slice(-6).toLowerCase()}`);
    expect(ws.path).toMatch(new RegExp(`^${root}/repo-[0-9a-f]{8}/${s.id}$`));
    expect(s.env.MAESTRO_WORKSPACE).toBe(ws.path);
    expect(s.timeline.map((t: any) => t.type)).toContain('workspace_created');
    expect(readFileSync(join(ws.path, '.env'), 'utf8')).toBe('SECRET=local\n');
    expect(existsSync(join(ws.path, 'missing.txt'))).toBe(false);
    expect(git(ws.path, 'log', '-1', '--format=%s')).toBe('agent: add feature');
    // The main checkout: same commit, nothing changed, no agent file.
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(mainBefore);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(existsSync(join(repo, 'feature.txt'))).toBe(false);
  });

  it('diff: commits + uncommitted + untracked against the merge base, without touching the worktree index', async () => {
    const s = await spawn('Diff me WT:work');
    const ws = s.workspace;
    const before = repoState(repo, [ws.path]);
    const res = await call('GET', `/api/sessions/${s.id}/diff`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sessionId: s.id, branch: ws.branch, baseBranch: 'main', conflicts: [], truncated: false });
    expect(res.body.files).toEqual([
      { path: 'README.md', status: 'modified', additions: 1, deletions: 0, binary: false },
      { path: 'feature.txt', status: 'added', additions: 2, deletions: 0, binary: false },
      { path: 'notes.txt', status: 'added', additions: 1, deletions: 0, binary: false },
    ]);
    expect(res.body.patch).toContain('+a line from the agent');
    expect(res.body.patch).toContain('+untracked notes');
    expect(res.body.patch).not.toContain('SECRET');
    expect(repoState(repo, [ws.path])).toEqual(before);
    const stat = await call('GET', `/api/sessions/${s.id}/diff?stat=1`);
    expect(stat.body.patch).toBe('');
    expect(stat.body.files).toHaveLength(3);
  });

  it('predicts conflicts with the base branch; a conflicting merge changes nothing anywhere (squash and rebase)', async () => {
    const s = await spawn('Conflict WT:conflict');
    writeFileSync(join(repo, 'README.md'), 'main version of the first line\nsecond line\n');
    git(repo, 'commit', '-q', '-a', '-m', 'main: rewrite README');
    const diff = await call('GET', `/api/sessions/${s.id}/diff?stat=true`);
    expect(diff.body.conflicts).toEqual(['README.md']);
    // Uncommitted work in the worktree and in the main checkout (an unrelated file) must survive too.
    writeFileSync(join(s.workspace.path, 'wip.txt'), 'agent wip\n');
    writeFileSync(join(repo, 'scratch.txt'), 'person wip\n');
    const before = repoState(repo, [s.workspace.path]);
    for (const strategy of ['squash', 'merge', 'rebase']) {
      const res = await call('POST', `/api/sessions/${s.id}/merge`, { strategy });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: 'MERGE_CONFLICT', details: { files: ['README.md'] } });
      expect(repoState(repo, [s.workspace.path])).toEqual(before);
    }
  });

  it('squash: one commit on main, the main checkout updated, uncommitted work committed first; then removal is clean', async () => {
    const s = await spawn('Squash me WT:work');
    const mainBefore = git(repo, 'rev-parse', 'main');
    const res = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sessionId: s.id, strategy: 'squash', baseBranch: 'main' });
    expect(git(repo, 'rev-parse', 'main')).toBe(res.body.commit);
    expect(git(repo, 'rev-parse', 'main^')).toBe(mainBefore);
    expect(git(repo, 'log', '-1', '--format=%B', 'main')).toBe(`Squash me WT:work\n\nMaestro session ${s.id}`);
    expect(readFileSync(join(repo, 'notes.txt'), 'utf8')).toBe('untracked notes\n');
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).toContain('a line from the agent');
    expect(git(repo, 'status', '--porcelain')).toBe('?? scratch.txt');
    expect(git(s.workspace.path, 'log', '-1', '--format=%s')).toBe(`${s.name}: uncommitted changes`);
    const after = (await call('GET', `/api/sessions/${s.id}`)).body;
    expect(after.workspace).toMatchObject({ state: 'merged', mergedCommit: res.body.commit });
    expect(after.timeline.map((t: any) => t.type)).toContain('workspace_merged');
    // Merging again with nothing new makes no empty commit: the answer names the base's head as it is.
    const again = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(again.status).toBe(200);
    expect(again.body.commit).toBe(res.body.commit);
    expect(git(repo, 'rev-parse', 'main')).toBe(res.body.commit);
    // Squash-merged work counts as merged: removal needs no force and deletes the branch.
    const removed = await call('DELETE', `/api/sessions/${s.id}/workspace`);
    expect(removed.status).toBe(200);
    expect(removed.body.workspace).toMatchObject({ state: 'removed', archiveRef: `refs/maestro/archive/${s.id}` });
    expect(existsSync(s.workspace.path)).toBe(false);
    expect(git(repo, 'branch', '--list', s.workspace.branch)).toBe('');
    expect(git(repo, 'rev-parse', `refs/maestro/archive/${s.id}`)).toMatch(/^[0-9a-f]{40}$/);
    expect((await call('GET', `/api/sessions/${s.id}/diff`)).body.code).toBe('NO_WORKSPACE');
  });

  it('merge and rebase strategies', async () => {
    git(repo, 'rm', '-q', 'feature.txt', 'notes.txt');
    git(repo, 'commit', '-q', '-m', 'drop the squashed files');
    const a = await spawn('Merge commit WT:work');
    const merged = await call('POST', `/api/sessions/${a.id}/merge`, { strategy: 'merge', message: 'Merge it; $(touch pwned) `x`' });
    expect(merged.status).toBe(200);
    expect(git(repo, 'rev-list', '--parents', '-1', 'main').split(' ')).toHaveLength(3);
    expect(git(repo, 'log', '-1', '--format=%s', 'main')).toBe('Merge it; $(touch pwned) `x`');
    git(repo, 'rm', '-q', 'feature.txt', 'notes.txt');
    git(repo, 'commit', '-q', '-m', 'drop them');
    const b = await spawn('Rebase me WT:work');
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'main moved on');
    const rebased = await call('POST', `/api/sessions/${b.id}/merge`, { strategy: 'rebase' });
    expect(rebased.status).toBe(200);
    expect(git(repo, 'log', '-3', '--format=%s', 'main').split('\n')).toEqual([
      `${b.name}: uncommitted changes`,
      'agent: add feature',
      'main moved on',
    ]);
    expect(existsSync(join(repo, 'feature.txt'))).toBe(true);
    expect(existsSync(join(repo, 'pwned'))).toBe(false);
  });

  it('refuses before anything changes: dirty target files, a running agent, no worktree; tokens merge only their own', async () => {
    git(repo, 'rm', '-q', 'feature.txt', 'notes.txt');
    git(repo, 'commit', '-q', '-m', 'drop them again');
    const s = await spawn('Dirty target WT:work');
    writeFileSync(join(repo, 'feature.txt'), 'the person was here\n');
    const before = repoState(repo, [s.workspace.path]);
    const res = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { files: ['feature.txt'] } });
    expect(repoState(repo, [s.workspace.path])).toEqual(before);
    const uncommitted = await call('POST', `/api/sessions/${s.id}/merge`, { commitUncommitted: false });
    expect(uncommitted.body).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { uncommitted: 1, untracked: 1 } });
    expect((await call('POST', `/api/sessions/${s.id}/merge`, { strategy: 'octopus' })).status).toBe(400);

    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Wait WT:wait' })).body;
    const spawned = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom', host: 'wt' });
    const waiting = await until(call, `/api/sessions/${spawned.body.sessionId}`, (x) => x.run?.state === 'running' && x.workspace);
    expect((await call('POST', `/api/sessions/${waiting.id}/merge`, {})).body.code).toBe('SESSION_RUNNING');
    expect((await call('DELETE', `/api/sessions/${waiting.id}/workspace`)).body.code).toBe('SESSION_RUNNING');
    // The waiting agent's token may not merge a session it did not spawn.
    const token = spawned.body.envVars.MAESTRO_SESSION_TOKEN;
    const foreign = await call('POST', `/api/sessions/${s.id}/merge`, {}, { authorization: `Bearer ${token}` });
    expect(foreign.status).toBe(403);
    await call('POST', `/api/sessions/${waiting.id}/stop`, {});
    const plain = (await call('POST', '/api/sessions', { projectId: project.id, taskIds: [] })).body;
    expect((await call('POST', `/api/sessions/${plain.id}/merge`, {})).body.code).toBe('NO_WORKSPACE');
    expect((await call('GET', `/api/sessions/nope/diff`)).status).toBe(404);
    git(repo, 'checkout', '-q', '--', '.');
    rmSyncQuiet(join(repo, 'feature.txt'));
  });

  it('removal never loses work: refused with counts, forced keeps everything under the archive ref', async () => {
    const s = await spawn('Keep my work WT:work');
    const refused = await call('DELETE', `/api/sessions/${s.id}/workspace`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { uncommitted: 1, untracked: 1, unmergedCommits: 1 } });
    expect(existsSync(s.workspace.path)).toBe(true);
    // Deleting the session keeps a worktree that holds work.
    const other = await spawn('Deleted with work WT:work');
    expect((await call('DELETE', `/api/sessions/${other.id}`)).status).toBe(200);
    expect(existsSync(join(other.workspace.path, 'notes.txt'))).toBe(true);
    const clean = await spawn('Nothing to keep WT:none');
    expect((await call('DELETE', `/api/sessions/${clean.id}`)).status).toBe(200);
    await until(call, '/health', () => !existsSync(clean.workspace.path));

    const forced = await call('DELETE', `/api/sessions/${s.id}/workspace?force=true`);
    expect(forced.status).toBe(200);
    expect(existsSync(s.workspace.path)).toBe(false);
    const ref = forced.body.workspace.archiveRef;
    expect(git(repo, 'show', `${ref}:notes.txt`)).toBe('untracked notes');
    expect(git(repo, 'show', `${ref}:feature.txt`)).toContain('feature line 1');
    expect(git(repo, 'show', `${ref}:README.md`)).toContain('a line from the agent');
  });

  it('auto is shared outside git; worktree outside git fails with the reason; setup runs in the terminal', async () => {
    const plainDir = tempDir('maestro-nogit-');
    const other = (await call('POST', '/api/projects', { name: 'No git', workingDir: plainDir })).body;
    const shared = await spawnAndWait(call, other.id, 'Shared WT:none', { host: 'wt' });
    expect(shared.workspace).toMatchObject({ mode: 'shared', path: plainDir, branch: null });
    const refused = await spawnAndWait(call, other.id, 'Refused', { host: 'wt', workspace: 'worktree' });
    expect(refused.status).toBe('failed');
    expect(refused.run.reason).toBe(`not a git repository: ${plainDir}`);
    expect((await call('GET', `/api/sessions/${shared.id}/diff`)).body.code).toBe('NO_WORKSPACE');

    await call('PUT', `/api/projects/${project.id}`, { workspace: { setup: 'echo "setting up in $PWD"; exit 3' } });
    const failed = await spawn('Setup fails');
    expect(failed.status).toBe('failed');
    expect(failed.run.reason).toBe('setup failed (exit 3)');
    expect(existsSync(failed.workspace.path)).toBe(true);
    await call('PUT', `/api/projects/${project.id}`, { workspace: { setup: 'echo installed > installed.txt' } });
    const ok = await spawn('Setup works WT:none');
    expect(ok.status).toBe('completed');
    expect(readFileSync(join(ok.workspace.path, 'installed.txt'), 'utf8')).toBe('installed\n');
    await call('PUT', `/api/projects/${project.id}`, { workspace: {} });
  });
});

const rmSyncQuiet = (path: string) => rmSync(path, { force: true });
