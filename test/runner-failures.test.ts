// Runners and worktrees when things go wrong: large answers, agents ended behind the runner's back, bases gone.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { which } from '../lib/domain/agents.js';
import { onFileEnd, startTestServer, tempDir, until } from './helpers.js';
import { silenceable } from './postgres.js';
import { screenOf, tmuxOut } from './runner-harness.js';
import { git, makeRepo, spawnAndWait, startRunner } from './worktree-helpers.js';

const SLOW = { timeout: 180_000 };

describe('runners and worktrees under failure', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const root = join(tempDir('maestro-wt-root-'), 'worktrees');
  const runner = startRunner(server.url, 'rf', root);
  await until(call, '/api/hosts/rf', (h) => h?.status === 'online');
  const repo = makeRepo();
  const project = (await call('POST', '/api/projects', { name: 'Repo', workingDir: repo })).body;
  const spawn = (title: string) => spawnAndWait(call, project.id, title, { host: 'rf' });

  it('a diff larger than an HTTP body is answered, and the runner stays connected', async () => {
    const s = await spawn('Big change');
    // 1.5 MiB of text: a patch under the contract's 2 MiB cut, so answered whole, in a frame over 1 MiB.
    const line = `${'x'.repeat(99)}\n`;
    writeFileSync(join(s.workspace.path, 'big.txt'), line.repeat(15_000));
    const res = await call('GET', `/api/sessions/${s.id}/diff`);
    expect(res.status).toBe(200);
    expect(res.body.files).toEqual([{ path: 'big.txt', status: 'added', additions: 15_000, deletions: 0, binary: false }]);
    expect(res.body.truncated).toBe(false);
    expect(res.body.patch.length).toBeGreaterThan(1_500_000);
    expect((await call('GET', '/api/hosts/rf')).body.status).toBe('online');
    expect(runner.output()).not.toContain('disconnected');
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  it('an agent whose tmux session is killed from outside is lost within seconds, not running for good', async () => {
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Wait WT:wait' })).body;
    const spawned = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom', host: 'rf' });
    const id = spawned.body.sessionId;
    await until(call, `/api/sessions/${id}`, (s) => s.run?.state === 'running');
    tmuxOut(runner.socket, ['kill-session', '-t', `=maestro-${id}`]);
    const s = await until(call, `/api/sessions/${id}`, (x) => x.status === 'failed', { ms: 10_000 });
    expect(s.run.state).toBe('lost');
    expect(s.timeline.at(-1).message).toBe('Agent process not found on rf');
    expect((await call('GET', '/api/hosts/rf')).body).toMatchObject({ status: 'online', sessions: 0 });
  });

  it('a tmux listing that fails (a busy machine) is not taken for agents gone: they stay running', async () => {
    const { PATH, flag, failed, listed } = tmuxThatFails();
    const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').length : 0);
    const polls = async (file: string, count: number) => {
      for (let i = 0; i < 600 && lines(file) < count; i++) await new Promise((r) => setTimeout(r, 50));
      expect(lines(file), `${file}: listings by the runner`).toBeGreaterThanOrEqual(count);
    };
    startRunner(server.url, 'rf2', root, { PATH });
    await until(call, '/api/hosts/rf2', (h) => h?.status === 'online');
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Wait WT:wait' })).body;
    const spawned = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom', host: 'rf2' });
    const id = spawned.body.sessionId;
    await until(call, `/api/sessions/${id}`, (s) => s.run?.state === 'running');
    writeFileSync(flag, '');
    await polls(failed, 5); // several polls of the runner, every one failing
    rmSync(flag);
    await polls(listed, lines(listed) + 2); // and then the runner lists its agents again
    expect((await call('GET', `/api/sessions/${id}`)).body).toMatchObject({
      status: expect.not.stringMatching(/failed/),
      run: { state: 'running' },
    });
    await call('POST', `/api/sessions/${id}/stop`, {});
  });

  it('a runner whose tmux does not answer as it reconnects says hello once it does: its agents are not taken for lost', async () => {
    const { PATH, flag } = tmuxThatFails();
    const relay = await silenceable(server.url);
    onFileEnd(() => relay.close());
    const rf3 = startRunner(relay.url, 'rf3', root, { PATH });
    await until(call, '/api/hosts/rf3', (h) => h?.status === 'online');
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Wait WT:wait' })).body;
    const spawned = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom', host: 'rf3' });
    const id = spawned.body.sessionId;
    await until(call, `/api/sessions/${id}`, (s) => s.run?.state === 'running');
    writeFileSync(flag, '');
    relay.speak(); // the connection drops; the runner reconnects while tmux fails
    await expect.poll(() => rf3.output(), { timeout: 20_000 }).toContain('hello failed: tmux list-panes failed');
    rmSync(flag);
    await until(call, '/api/hosts/rf3', (h) => h?.status === 'online');
    expect((await call('GET', `/api/sessions/${id}`)).body).toMatchObject({ status: 'working', run: { state: 'running' } });
    await call('POST', `/api/sessions/${id}/stop`, {});
  });

  it('a base branch deleted after launch: the diff still shows the work, and a forced removal archives and removes it', async () => {
    git(repo, 'branch', 'short-lived', 'main');
    const other = (await call('POST', '/api/projects', { name: 'Gone', workingDir: repo, workspace: { baseBranch: 'short-lived' } })).body;
    const s = await spawnAndWait(call, other.id, 'Work WT:work', { host: 'rf' });
    expect(s.workspace.baseBranch).toBe('short-lived');
    git(repo, 'branch', '-D', 'short-lived');
    const diff = await call('GET', `/api/sessions/${s.id}/diff?stat=1`);
    expect(diff.status).toBe(200);
    expect(diff.body.files.map((f: any) => f.path)).toEqual(['README.md', 'feature.txt', 'notes.txt']);
    expect(diff.body.conflicts).toEqual([]);
    const refused = await call('DELETE', `/api/sessions/${s.id}/workspace`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { uncommitted: 1, untracked: 1, unmergedCommits: 1 } });
    const removed = await call('DELETE', `/api/sessions/${s.id}/workspace?force=true`);
    expect(removed.status).toBe(200);
    expect(removed.body.workspace).toMatchObject({ state: 'removed', archiveRef: `refs/maestro/archive/${s.id}` });
    expect(existsSync(s.workspace.path)).toBe(false);
    expect(git(repo, 'show', `refs/maestro/archive/${s.id}:notes.txt`)).toBe('untracked notes');
  });

  it('an agent that ended while its runner was away: reconciled on restart, its tmux session and files cleared away', async () => {
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Wait WT:wait' })).body;
    const spawned = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom', host: 'rf' });
    const id = spawned.body.sessionId;
    await until(call, `/api/sessions/${id}`, (s) => s.run?.state === 'running');
    runner.proc.kill('SIGKILL');
    await runner.exited;
    await until(call, '/api/hosts/rf', (h) => h.status === 'offline');
    // The agent's last words and exit, while no runner watches it; its exit code also in the file the runner's launcher
    // writes (on a loaded machine tmux may close a pane without ever giving its exit status).
    const exitFile = join(tmpdir(), `maestro-runner-${process.getuid?.() ?? 'u'}`, runner.socket, `${id}.exit`);
    tmuxOut(runner.socket, ['respawn-pane', '-k', '-t', `maestro-${id}`, `echo last words; echo 3 > '${exitFile}'; exit 3`]);
    const dead = () => tmuxOut(runner.socket, ['display-message', '-p', '-t', `maestro-${id}`, '#{pane_dead}']).trim() === '1';
    for (let i = 0; i < 100 && !dead(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(dead()).toBe(true);
    startRunner(server.url, 'rf', root);
    const s = await until(call, `/api/sessions/${id}`, (x) => x.run?.state === 'exited');
    expect(s).toMatchObject({ status: 'failed', run: { exitCode: 3 } });
    expect(s.timeline.at(-1).message).toBe('Agent exited with code 3; last output: last words');
    expect(await screenOf(call, id)).toContain('last words');
    expect(tmuxOut(runner.socket, ['list-sessions', '-F', '#{session_name}'])).not.toContain(id);
  });
});

/**
 * A `tmux` first on PATH whose `list-panes` fails (as on a busy machine) while the file `flag` exists. Each listing
 * leaves a line in `failed` or `listed`: a test waits for polls, not for a time that covers some.
 */
function tmuxThatFails() {
  const shims = tempDir('maestro-tmux-shim-');
  const [flag, failed, listed] = [join(shims, 'fail'), join(shims, 'failed'), join(shims, 'listed')];
  writeFileSync(
    join(shims, 'tmux'),
    `#!/bin/sh\nfor a in "$@"; do [ "$a" = list-panes ] || continue; if [ -e '${flag}' ]; then echo >> '${failed}'; echo 'server busy' >&2; exit 1; fi; echo >> '${listed}'; done\nexec '${which('tmux')}' "$@"\n`,
    { mode: 0o755 },
  );
  return { PATH: `${shims}${delimiter}${process.env.PATH}`, flag, failed, listed };
}
