// Reconciliation when a runner reconnects (§15.3 step 6), played over the runner protocol: every outcome, and the
// whole runner's changes committed together rather than one commit per agent.
import { describe, expect, it } from 'vitest';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, tempDir, until } from './helpers.js';

describe('a runner reconnecting (§15.3 step 6)', () => {
  it('reconciles every session of the runner in one commit: running, exited with its code, lost', async () => {
    const server = await startTestServer();
    const project = (await server.call('POST', '/api/projects', { name: 'Fleet', workingDir: tempDir() })).body;
    let runner = await fakeRunner(server.url);
    runner.hello([]);
    await runner.next('welcome');
    const ids: string[] = [];
    const at = (i: number) => ids[i]!;
    for (let i = 0; i < 6; i++) {
      const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: `Work ${i}` })).body;
      const spawned = await server.call('POST', '/api/sessions/spawn', {
        projectId: project.id,
        taskIds: [task.id],
        host: 'fleet',
        agent: 'claude',
      });
      const launch = await runner.next('launch');
      runner.send({ type: 'started', sessionId: launch.sessionId, pid: 100 + i });
      ids.push(spawned.body.sessionId);
    }
    const session = async (id: string) => (await server.call('GET', `/api/sessions/${id}`)).body;
    for (const id of ids) await until(server.call, `/api/sessions/${id}`, (s) => s.run.state === 'running');
    runner.ws.close();
    await until(server.call, '/api/hosts/fleet', (h) => h.status === 'offline');

    // Two still running, three exited while the server could not hear (0, 1 and a signal), one gone.
    // Commits that change sessions (follow-ups such as revoking the ended sessions' tokens change other kinds).
    const engine = server.services.db.engine;
    const commit = engine.commit.bind(engine);
    let commits = 0;
    engine.commit = ((batch: Parameters<typeof commit>[0]) => {
      if (batch.changes.some((c) => c.kind === 'sessions')) commits++;
      return commit(batch);
    }) as typeof engine.commit;
    runner = await fakeRunner(server.url);
    runner.hello([
      { sessionId: ids[0], state: 'running', pid: 100 },
      { sessionId: ids[1], state: 'running', pid: 101 },
      { sessionId: ids[2], state: 'exited', exitCode: 0, signal: null, lastLine: 'all done' },
      { sessionId: ids[3], state: 'exited', exitCode: 1, signal: null },
      { sessionId: ids[4], state: 'exited', exitCode: null, signal: 'SIGKILL' },
    ]);
    await runner.next('welcome');
    await until(server.call, `/api/sessions/${at(5)}`, (s) => s.run.state === 'lost');
    engine.commit = commit;

    expect(await session(at(0))).toMatchObject({ run: { state: 'running', pid: 100 } });
    expect(await session(at(1))).toMatchObject({ run: { state: 'running', pid: 101 } });
    const done = await session(at(2));
    expect(done).toMatchObject({ status: 'completed', run: { state: 'exited', exitCode: 0 } });
    expect(done.timeline.at(-1).message).toBe('Agent exited with code 0; last output: all done');
    expect(await session(at(3))).toMatchObject({ status: 'failed', run: { state: 'exited', exitCode: 1 } });
    expect(await session(at(4))).toMatchObject({ status: 'failed', run: { state: 'exited', signal: 'SIGKILL' } });
    const lost = await session(at(5));
    expect(lost).toMatchObject({ status: 'failed', run: { state: 'lost' } });
    expect(lost.timeline.at(-1)).toMatchObject({ type: 'error', message: 'Agent process not found on fleet' });
    // The four changed sessions together, not one commit (one flush) after another.
    expect(commits).toBe(1);
    runner.ws.close();
  });
});
