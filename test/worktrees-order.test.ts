// Merges and removals of one worktree (§20.4, §20.5) run one at a time, in arrival order (§1.7): a double-clicked
// Merge beside a Remove never has two git operations on the runner at once, and the answer recorded last is the
// operation that ran last. The runner is played by the test, so it can hold each git request for a while.
import { expect, it } from 'vitest';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, tempDir, until } from './helpers.js';

it('a Remove and a second Merge during a merge: git sees them one by one, and the worktree ends removed', async () => {
  const server = await startTestServer();
  const runner = await fakeRunner(server.url);
  runner.hello();
  await runner.next('welcome');
  const project = (await server.call('POST', '/api/projects', { name: 'Order', workingDir: tempDir() })).body;
  const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Work' })).body;
  const spawned = await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], host: 'fleet' });
  expect(spawned.status).toBe(201);
  const { sessionId } = spawned.body;
  const path = `/api/sessions/${sessionId}`;
  await runner.next('launch');
  const workspace = { mode: 'worktree', path: '/wt/x', branch: 'maestro/work', baseBranch: 'main', baseCommit: 'a1', repoPath: '/repo' };
  runner.send({ type: 'workspace', sessionId, workspace });
  runner.send({ type: 'started', sessionId, pid: 7 });
  runner.send({ type: 'exited', sessionId, exitCode: 0, signal: null });
  await until(server.call, path, (s) => s?.run?.state === 'exited' && s.workspace?.state === 'active');

  // The runner answers each git request 200 ms after it came, and notes how many it held at once.
  const ops: string[] = [];
  let held = 0;
  let mostHeld = 0;
  let gitCame = () => {};
  const firstGit = new Promise<void>((resolve) => (gitCame = resolve));
  runner.ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.type !== 'git') return;
    ops.push(m.op);
    gitCame();
    mostHeld = Math.max(mostHeld, ++held);
    const answer =
      m.op === 'merge' ? { commit: `c${ops.length}` } : { archiveRef: `refs/maestro/archive/${sessionId}`, branchDeleted: true };
    setTimeout(() => {
      held--;
      runner.send({ type: 'reply', id: m.id, ok: true, data: answer });
    }, 200);
  });

  // The first merge reaches the runner; a Remove and a second Merge come while it is there (in either order).
  const merged = server.call('POST', `${path}/merge`, {});
  await firstGit;
  const [removed, again] = await Promise.all([server.call('DELETE', `${path}/workspace`), server.call('POST', `${path}/merge`, {})]);
  expect((await merged).body).toMatchObject({ sessionId, strategy: 'squash', commit: 'c1' });
  expect(removed.status).toBe(200);
  expect(mostHeld).toBe(1);
  if (again.status === 409) {
    expect(again.body.code).toBe('NO_WORKSPACE');
    expect(ops).toEqual(['merge', 'remove']);
  } else {
    expect(again.status).toBe(200);
    expect(ops).toEqual(['merge', 'merge', 'remove']);
  }

  const session = (await server.call('GET', path)).body;
  expect(session.workspace).toMatchObject({ state: 'removed', archiveRef: `refs/maestro/archive/${sessionId}` });
  expect(session.timeline.filter((e: any) => e.type.startsWith('workspace_')).at(-1).type).toBe('workspace_removed');
});
