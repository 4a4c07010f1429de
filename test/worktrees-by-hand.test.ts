// Workspaces (contract §20) meeting what people, agents and repositories do: an agent on a branch of its own or on a
// detached HEAD, a worktree or its branch deleted outside Maestro, an ignored file of the person's where a merge writes;
// work left inside a submodule; a person merging several finished agents at once, or rebasing the base branch; locks
// and rebases left behind; `copy` meeting a FIFO.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../lib/cli/program.js';
import { startTestServer, tempDir, until } from './helpers.js';
import { git, makeRepo, repoState, spawnAndWait, startRunner } from './worktree-helpers.js';

const SLOW = { timeout: 180_000 };

describe('worktrees among what people, agents and repositories do', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const root = join(tempDir('maestro-wt-root-'), 'worktrees');
  startRunner(server.url, 'byhand', root);
  await until(call, '/api/hosts/byhand', (h) => h?.status === 'online');
  const repo = makeRepo();
  const project = (await call('POST', '/api/projects', { name: 'By hand', workingDir: repo })).body;
  const spawn = (title: string) => spawnAndWait(call, project.id, title, { host: 'byhand' });
  const commitIn = (wt: string, file: string) => {
    writeFileSync(join(wt, file), `${file}\n`);
    git(wt, 'add', '--', file);
    git(wt, 'commit', '-q', '-m', `agent: ${file}`);
  };

  it('merges what the diff shows when the agent switched to a branch of its own or detached HEAD', async () => {
    const a = await spawn('Own branch WT:none');
    const wt = a.workspace.path;
    const branchBefore = git(repo, 'rev-parse', a.workspace.branch);
    git(wt, 'checkout', '-q', '-b', 'agent/own');
    commitIn(wt, 'own.txt');
    writeFileSync(join(wt, 'own-wip.txt'), 'wip\n');
    const diff = await call('GET', `/api/sessions/${a.id}/diff?stat=1`);
    expect(diff.body.files.map((f: any) => f.path)).toEqual(['own-wip.txt', 'own.txt']);
    const merged = await call('POST', `/api/sessions/${a.id}/merge`, {});
    expect(merged.status).toBe(200);
    expect(git(repo, 'rev-parse', 'main')).toBe(merged.body.commit);
    expect(git(repo, 'show', 'main:own.txt')).toBe('own.txt');
    expect(git(repo, 'show', 'main:own-wip.txt')).toBe('wip');
    // The uncommitted work went onto the branch the agent had checked out; the session's branch was left alone.
    expect(git(wt, 'log', '-1', '--format=%s', 'agent/own')).toBe(`${a.name}: uncommitted changes`);
    expect(git(repo, 'rev-parse', a.workspace.branch)).toBe(branchBefore);
    expect(git(wt, 'status', '--porcelain')).toBe('');

    const b = await spawn('Detached WT:none');
    git(b.workspace.path, 'checkout', '-q', '--detach');
    commitIn(b.workspace.path, 'detached.txt');
    writeFileSync(join(b.workspace.path, 'detached-wip.txt'), 'wip\n');
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'main moved on');
    const rebased = await call('POST', `/api/sessions/${b.id}/merge`, { strategy: 'rebase' });
    expect(rebased.status).toBe(200);
    expect(git(repo, 'log', '-3', '--format=%s', 'main').split('\n')).toEqual([
      `${b.name}: uncommitted changes`,
      'agent: detached.txt',
      'main moved on',
    ]);
    expect(readFileSync(join(repo, 'detached-wip.txt'), 'utf8')).toBe('wip\n');
  });

  it('a worktree deleted by hand: diff and merge answer NO_WORKSPACE; removal archives the branch it left', async () => {
    const s = await spawn('Deleted by hand WT:work');
    const head = git(repo, 'rev-parse', s.workspace.branch);
    rmSync(s.workspace.path, { recursive: true, force: true });
    for (const [method, path] of [
      ['GET', 'diff'],
      ['POST', 'merge'],
    ] as const) {
      const res = await call(method, `/api/sessions/${s.id}/${path}`, method === 'POST' ? {} : undefined);
      expect(res.status, path).toBe(409);
      expect(res.body).toMatchObject({
        code: 'NO_WORKSPACE',
        message: `The worktree ${s.workspace.path} no longer exists (removed outside Maestro)`,
      });
    }
    const removed = await call('DELETE', `/api/sessions/${s.id}/workspace`);
    expect(removed.status).toBe(200);
    expect(removed.body.workspace).toMatchObject({ state: 'removed', archiveRef: `refs/maestro/archive/${s.id}` });
    expect(git(repo, 'rev-parse', `refs/maestro/archive/${s.id}`)).toBe(head);
    expect(git(repo, 'worktree', 'list', '--porcelain')).not.toContain(s.id);

    // The worktree and its branch both deleted by hand: nothing is left to keep, and the answer names no archive.
    const t = await spawn('Both deleted WT:work');
    git(repo, 'worktree', 'remove', '--force', t.workspace.path);
    git(repo, 'branch', '-D', t.workspace.branch);
    const out: string[] = [];
    const code = await run(['--server', server.url, 'workspace', 'rm', t.id], {
      env: {},
      stdout: (s) => out.push(s),
      stderr: (s) => out.push(s),
    });
    expect([code, out.join('')]).toEqual([0, `Removed ${t.workspace.path}; nothing was left to keep\n`]);
    const gone = (await call('GET', `/api/sessions/${t.id}`)).body;
    expect(gone.workspace.state).toBe('removed');
    expect(gone.workspace).not.toHaveProperty('archiveRef');
    expect(gone.timeline.at(-1).message).toBe(`Worktree ${t.workspace.path} removed; it and its branch were already gone`);
    expect(git(repo, 'for-each-ref', `refs/maestro/archive/${t.id}`)).toBe('');
  });

  it("refuses a merge that would overwrite an ignored file in the person's checkout", async () => {
    const s = await spawn('Ignored in the way WT:none');
    writeFileSync(join(s.workspace.path, '.env'), 'SECRET=from the agent\n');
    git(s.workspace.path, 'add', '-f', '--', '.env');
    git(s.workspace.path, 'commit', '-q', '-m', 'agent: commit .env');
    const before = repoState(repo, [s.workspace.path]);
    const res = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { files: ['.env'], checkout: repo } });
    expect(readFileSync(join(repo, '.env'), 'utf8')).toBe('SECRET=local\n');
    expect(repoState(repo, [s.workspace.path])).toEqual(before);
    // Once the person moved it away, the same merge goes through.
    rmSync(join(repo, '.env'));
    expect((await call('POST', `/api/sessions/${s.id}/merge`, {})).status).toBe(200);
    expect(existsSync(join(repo, '.env'))).toBe(true);
  });

  it('several sessions merged at once all go in, into a checked-out base branch and into one checked out nowhere', async () => {
    const elsewhere = (await call('POST', '/api/projects', { name: 'Base elsewhere', workingDir: repo, workspace: { baseBranch: 'main' } }))
      .body;
    for (const [variant, projectId] of [
      ['checked-out', project.id],
      ['nowhere', elsewhere.id],
    ] as const) {
      if (variant === 'nowhere') git(repo, 'checkout', '-q', '-b', 'elsewhere');
      const sessions = [];
      for (const n of [1, 2, 3]) sessions.push(await spawnAndWait(call, projectId, `At once ${n} WT:none`, { host: 'byhand' }));
      for (const s of sessions) writeFileSync(join(s.workspace.path, `${variant}-${s.id}.txt`), `${s.id}\n`);
      const mainBefore = git(repo, 'rev-parse', 'main');
      const answers = await Promise.all(sessions.map((s) => call('POST', `/api/sessions/${s.id}/merge`, {})));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      expect(git(repo, 'rev-list', '--count', `${mainBefore}..main`)).toBe('3');
      expect(
        git(repo, 'ls-tree', '--name-only', 'main')
          .split('\n')
          .filter((f) => f.startsWith(`${variant}-`)),
      ).toHaveLength(3);
    }
    expect(git(repo, 'status', '--porcelain')).toBe('');
    git(repo, 'checkout', '-q', 'main');
  });

  it('work left inside a submodule of the worktree keeps it from being removed as merged', async () => {
    const lib = makeRepo('lib');
    const app = makeRepo('app');
    git(app, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', '--', lib, 'lib');
    git(app, 'commit', '-q', '-m', 'add lib');
    const setup = 'git -c protocol.file.allow=always submodule update --init --recursive';
    const withLib = (await call('POST', '/api/projects', { name: 'With a submodule', workingDir: app, workspace: { setup } })).body;
    const s = await spawnAndWait(call, withLib.id, 'Fix the library WT:none', { host: 'byhand' });
    const inside = join(s.workspace.path, 'lib', 'README.md');
    writeFileSync(inside, 'fixed inside the submodule\n');
    writeFileSync(join(s.workspace.path, 'app.txt'), 'app\n');
    expect((await call('POST', `/api/sessions/${s.id}/merge`, {})).status).toBe(200);
    expect(git(app, 'show', 'main:app.txt')).toBe('app');
    const refused = await call('DELETE', `/api/sessions/${s.id}/workspace`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { uncommitted: 1, untracked: 0 } });
    expect(readFileSync(inside, 'utf8')).toBe('fixed inside the submodule\n');
    // Deleting the session keeps it too (§20.5).
    expect((await call('DELETE', `/api/sessions/${s.id}`)).status).toBe(200);
    expect(readFileSync(inside, 'utf8')).toBe('fixed inside the submodule\n');
  });

  it('refuses to merge into a base branch the person is rebasing; once the rebase is done the merge goes in', async () => {
    const s = await spawn('While main is rebased WT:none');
    writeFileSync(join(s.workspace.path, 'during-rebase.txt'), 'agent\n');
    // The person rebases main onto another branch, and stops on a conflict (main's HEAD is detached meanwhile).
    git(repo, 'branch', 'upstream', 'main');
    git(repo, 'checkout', '-q', 'upstream');
    writeFileSync(join(repo, 'README.md'), 'upstream line\n');
    git(repo, 'commit', '-q', '-a', '-m', 'upstream: README');
    git(repo, 'checkout', '-q', 'main');
    writeFileSync(join(repo, 'README.md'), 'main line\n');
    git(repo, 'commit', '-q', '-a', '-m', 'main: README');
    expect(() => git(repo, 'rebase', 'upstream')).toThrow();
    const mainBefore = git(repo, 'rev-parse', 'main');
    const refused = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: 'WORKSPACE_DIRTY',
      message: `main is being rebased in ${repo}: finish or abort that first`,
      details: { files: [], checkout: repo },
    });
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    writeFileSync(join(repo, 'README.md'), 'both lines\n');
    git(repo, 'add', '--', 'README.md');
    git(repo, '-c', 'core.editor=true', 'rebase', '--continue');
    expect(git(repo, 'log', '-1', '--format=%s', 'main')).toBe('main: README');
    const merged = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(merged.status).toBe(200);
    expect(readFileSync(join(repo, 'during-rebase.txt'), 'utf8')).toBe('agent\n');
  });

  it('a lock left in the worktree by a killed git is a 409 naming it, and everything stays as it was', async () => {
    const s = await spawn('Killed mid-commit WT:none');
    writeFileSync(join(s.workspace.path, 'half.txt'), 'half\n');
    const lock = git(s.workspace.path, 'rev-parse', '--path-format=absolute', '--git-path', 'index.lock');
    writeFileSync(lock, '');
    const before = repoState(repo, [s.workspace.path]);
    const res = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      code: 'WORKSPACE_DIRTY',
      message: `Another git process holds ${lock}: let it finish, or remove the file if none runs`,
    });
    expect(repoState(repo, [s.workspace.path])).toEqual(before);
    rmSync(lock);
    expect((await call('POST', `/api/sessions/${s.id}/merge`, {})).status).toBe(200);
    expect(git(repo, 'show', 'main:half.txt')).toBe('half');
  });

  it('a rebase the agent left stopped on a conflict is refused, for every strategy, and left as it was', async () => {
    const s = await spawn('Stopped rebase WT:none');
    const wt = s.workspace.path;
    writeFileSync(join(wt, 'README.md'), 'agent readme\n');
    git(wt, 'commit', '-q', '-a', '-m', 'agent: README');
    writeFileSync(join(repo, 'README.md'), 'main readme\n');
    git(repo, 'commit', '-q', '-a', '-m', 'main: README again');
    expect(() => git(wt, 'rebase', 'main')).toThrow();
    const rebaseDir = join(git(wt, 'rev-parse', '--absolute-git-dir'), 'rebase-merge');
    const before = repoState(repo, [wt]);
    for (const strategy of ['squash', 'merge', 'rebase']) {
      const res = await call('POST', `/api/sessions/${s.id}/merge`, { strategy });
      expect(res.status, strategy).toBe(409);
      expect(res.body).toMatchObject({
        code: 'WORKSPACE_DIRTY',
        message: 'The worktree is in the middle of a rebase: finish or abort it there first',
      });
      expect(repoState(repo, [wt])).toEqual(before);
      expect(existsSync(rebaseDir)).toBe(true);
    }
    git(wt, 'rebase', '--abort');
  });

  it('copy skips what holds no data (a FIFO); a copy that fails takes the new worktree and branch back', async () => {
    mkdirSync(join(repo, 'tmp'), { recursive: true });
    writeFileSync(join(repo, 'tmp', 'cache.txt'), 'cached\n');
    execFileSync('mkfifo', [join(repo, 'tmp', 'dev-server.pipe')]);
    const copying = (await call('POST', '/api/projects', { name: 'Copies tmp', workingDir: repo, workspace: { copy: ['tmp'] } })).body;
    const s = await spawnAndWait(call, copying.id, 'With a pipe WT:none', { host: 'byhand' });
    expect(s.status).toBe('completed');
    expect(readFileSync(join(s.workspace.path, 'tmp', 'cache.txt'), 'utf8')).toBe('cached\n');
    expect(existsSync(join(s.workspace.path, 'tmp', 'dev-server.pipe'))).toBe(false);

    // A copy that cannot be made: on the base branch `conf` is a file, in the checkout a directory holding the entry.
    git(repo, 'checkout', '-q', '-b', 'conf-is-a-file');
    writeFileSync(join(repo, 'conf'), 'a file\n');
    git(repo, 'add', '--', 'conf');
    git(repo, 'commit', '-q', '-m', 'conf as a file');
    git(repo, 'checkout', '-q', 'main');
    mkdirSync(join(repo, 'conf'));
    writeFileSync(join(repo, 'conf', 'local.json'), '{}\n');
    const workspace = { baseBranch: 'conf-is-a-file', copy: ['conf/local.json'] };
    const failing = (await call('POST', '/api/projects', { name: 'Cannot copy', workingDir: repo, workspace })).body;
    const f = await spawnAndWait(call, failing.id, 'Copy fails WT:none', { host: 'byhand' });
    expect(f.status).toBe('failed');
    expect(f.run.reason).toMatch(/^worktree creation failed: /);
    expect(f.workspace).toBeNull();
    expect(git(repo, 'worktree', 'list', '--porcelain')).not.toContain(f.id);
    expect(git(repo, 'branch', '--list', `maestro/copy-fails-wt-none-*`)).toBe('');
    expect(readdirSync(dirname(s.workspace.path)).filter((name) => name.startsWith(f.id))).toEqual([]);
    rmSync(join(repo, 'conf'), { recursive: true });
    rmSync(join(repo, 'tmp'), { recursive: true });
  });

  it('merges into a base branch whose only checkout was deleted by hand: the branch moves, as when checked out nowhere', async () => {
    const elsewhere = join(tempDir('maestro-wt-gone-'), 'release checkout');
    git(repo, 'worktree', 'add', '-q', '-b', 'release', elsewhere, 'main');
    const project2 = (await call('POST', '/api/projects', { name: 'Release', workingDir: repo, workspace: { baseBranch: 'release' } }))
      .body;
    const s = await spawnAndWait(call, project2.id, 'For the release WT:none', { host: 'byhand' });
    writeFileSync(join(s.workspace.path, 'release-note.txt'), 'note\n');
    rmSync(elsewhere, { recursive: true, force: true });
    const res = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(res.status).toBe(200);
    expect(git(repo, 'rev-parse', 'release')).toBe(res.body.commit);
    expect(git(repo, 'show', 'release:release-note.txt')).toBe('note');
  });

  // (only root can give the repository to another user)
  it.skipIf(process.getuid?.() !== 0)(
    "a repository git refuses (another user's: dubious ownership) fails the launch with git's reason, not shared",
    async () => {
      const theirs = makeRepo('theirs');
      execFileSync('chown', ['-R', '65534:65534', '--', theirs]);
      const other = (await call('POST', '/api/projects', { name: "Someone else's", workingDir: theirs })).body;
      const s = await spawnAndWait(call, other.id, 'In their repo WT:none', { host: 'byhand' });
      expect(s.status).toBe('failed');
      expect(s.run.reason).toBe(
        `git refuses ${theirs}: detected dubious ownership in repository at '${theirs}' (see git's safe.directory)`,
      );
      expect(s.workspace).toBeNull();
    },
  );

  it('a repository moved away after the launch: diff, merge and removal answer NO_WORKSPACE, the worktree stays', async () => {
    const moving = makeRepo('moving');
    const mp = (await call('POST', '/api/projects', { name: 'Moves', workingDir: moving })).body;
    const s = await spawnAndWait(call, mp.id, 'Before the move WT:work', { host: 'byhand' });
    renameSync(moving, `${moving}-moved`);
    const message = `The repository ${moving} of this worktree no longer exists (moved or deleted): 'git worktree repair' run in its new place reconnects the worktree`;
    for (const [method, path] of [
      ['GET', 'diff'],
      ['POST', 'merge'],
      ['DELETE', 'workspace'],
    ] as const) {
      const res = await call(method, `/api/sessions/${s.id}/${path}`, method === 'POST' ? {} : undefined);
      expect([res.status, res.body.code, res.body.message], path).toEqual([409, 'NO_WORKSPACE', message]);
    }
    expect(readFileSync(join(s.workspace.path, 'notes.txt'), 'utf8')).toBe('untracked notes\n');
  });
});
