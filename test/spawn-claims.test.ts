// A spawned task is taken (contract §24.7): a spawn that launches on a runner claims its tasks for the new session.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { run } from '../lib/cli/program.js';
import { createApp } from '../lib/http/app.js';
import { createLogger } from '../lib/log.js';
import { createServices } from '../lib/services.js';
import { appClient, cliBaseEnv, startTestServer, testConfig } from './helpers.js';

const HOST = { hostname: 'remote', platform: 'linux', arch: 'x64', version: '1', agents: ['shell'], local: false, connectedAt: null };

/** The app in-process with a clock the test moves, every broadcast recorded, and a known (offline) host "remote". */
async function clocked() {
  let now = Date.UTC(2030, 0, 1);
  const services = await createServices(testConfig(), createLogger('error'), () => now);
  const { app } = await createApp(services);
  const events: { type: string; data: any }[] = [];
  await services.hub.subscribe({ filter: {}, readyState: 1, send: (m: string) => void events.push(JSON.parse(m)) });
  await services.db.mutate((tx) => tx.put('hosts', { name: 'remote', lastSeen: now, ...HOST }));
  const { call, ok } = appClient(app);
  const project = (await ok('POST', '/api/projects', { name: 'Claims', workingDir: '/tmp' })).id as string;
  return {
    services,
    call,
    ok,
    project,
    task: (title: string) => ok('POST', '/api/tasks', { projectId: project, title }),
    spawn: (taskIds: string[], extra: Record<string, unknown> = {}) =>
      call('POST', '/api/sessions/spawn', { projectId: project, taskIds, host: 'remote', agent: 'shell', ...extra }),
    /** Events since the last call, as [type, data]; a no-op mutation first, so that follow-up mutations have run. */
    drain: async () => {
      await services.db.mutate(() => {});
      return events.splice(0).map((e) => [e.type, e.data] as [string, any]);
    },
    advance: (ms: number) => void (now += ms),
    now: () => now,
  };
}

describe('a spawn on a runner takes its tasks (§24.7)', () => {
  it('claims each open task for the new session, after the spawn events; next and claim-next pass it by', async () => {
    const g = await clocked();
    const [open, done] = [await g.task('Fix the cart'), await g.task('Already done')];
    await g.ok('PATCH', `/api/tasks/${done.id}`, { status: 'completed' });
    await g.drain();

    const res = await g.spawn([open.id, done.id]);
    expect(res.status).toBe(201);
    const sessionId = res.body.sessionId;
    const task = await g.ok('GET', `/api/tasks/${open.id}`);
    expect(task).toMatchObject({ status: 'in_progress', ready: false, startedAt: g.now() });
    expect(task.claim).toEqual({ sessionId, claimedAt: g.now(), expiresAt: g.now() + 900_000, leaseMs: 900_000 });
    expect(await g.ok('GET', `/api/tasks/${done.id}`)).toMatchObject({ status: 'completed' });
    expect((await g.ok('GET', `/api/tasks/${done.id}`)).claim).toBeUndefined();

    // The §6 sequence stays as it was; the claim's task:updated comes after it.
    const events = await g.drain();
    const types = events.map(([type]) => type);
    const lastSpawnEvent = types.lastIndexOf('task:session_added') + 2; // then that task's task:updated
    expect(types.slice(0, 3)).toEqual(['session:updated', 'session:spawn', 'session:spawn_request']);
    const claimed = events.slice(lastSpawnEvent);
    expect(claimed.map(([type, data]) => [type, data.id, data.status, data.claim?.sessionId])).toEqual([
      ['task:updated', open.id, 'in_progress', sessionId],
    ]);

    expect((await g.ok('GET', `/api/tasks/next?projectId=${g.project}`)).task).toBeNull();
    const other = await g.ok('POST', '/api/sessions', { projectId: g.project, taskIds: [] });
    expect((await g.ok('POST', '/api/tasks/claim-next', { projectId: g.project, sessionId: other.id })).task).toBeNull();
  });

  it('a task another live session holds → 409 TASK_CLAIMED, and nothing is created', async () => {
    const g = await clocked();
    const task = await g.task('Contended');
    const first = await g.spawn([task.id]);
    expect(first.status).toBe(201);
    const sessionsBefore = (await g.ok('GET', '/api/sessions')).length;
    await g.drain();

    const second = await g.spawn([task.id]);
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({
      error: true,
      code: 'TASK_CLAIMED',
      details: { taskId: task.id, sessionId: first.body.sessionId },
    });
    expect((await g.ok('GET', '/api/sessions')).length).toBe(sessionsBefore);
    expect(await g.drain()).toEqual([]);
    expect((await g.ok('GET', `/api/tasks/${task.id}`)).sessionIds).toEqual([first.body.sessionId]);

    // Once that session ended, the task may be spawned again.
    await g.ok('POST', `/api/sessions/${first.body.sessionId}/stop`, {});
    const again = await g.spawn([task.id]);
    expect(again.status).toBe(201);
    expect((await g.ok('GET', `/api/tasks/${task.id}`)).claim.sessionId).toBe(again.body.sessionId);
  });

  it("the spawning session's own claim is handed to the worker it spawns; another session's still refuses", async () => {
    const g = await clocked();
    const task = await g.task('Delegated');
    // An orchestrator's claim loop (its template): claim the next ready task, then spawn a worker for it.
    const lead = (await g.spawn([(await g.task('Lead')).id], { role: 'orchestrator' })).body.sessionId;
    await g.ok('POST', `/api/tasks/${task.id}/claim`, { sessionId: lead });
    await g.drain();

    const worker = await g.spawn([task.id], { spawnSource: 'session', sessionId: lead });
    expect(worker.status).toBe(201);
    const handed = await g.ok('GET', `/api/tasks/${task.id}`);
    expect(handed).toMatchObject({ status: 'in_progress', claim: { sessionId: worker.body.sessionId } });
    const events = await g.drain();
    expect(events.filter(([type]) => type === 'task:claim_released').map(([, data]) => data)).toEqual([
      { taskId: task.id, sessionId: lead, reason: 'released' },
    ]);

    // A sibling of the worker is not its holder's child: still 409, nothing created.
    const sibling = await g.spawn([task.id], { spawnSource: 'session', sessionId: lead });
    expect(sibling.status).toBe(409);
    expect(sibling.body.details).toMatchObject({ taskId: task.id, sessionId: worker.body.sessionId });
  });

  it('the lease lasts while the run does, and is released when the session ends', async () => {
    const g = await clocked();
    const task = await g.task('Long think');
    const { sessionId } = (await g.spawn([task.id])).body;
    // An agent that never calls the API for an hour keeps its task while its run is pending or running.
    for (let i = 0; i < 8; i++) {
      g.advance(450_000 + 1);
      await g.services.claims.sweep();
    }
    const held = await g.ok('GET', `/api/tasks/${task.id}`);
    expect(held).toMatchObject({ status: 'in_progress', claim: { sessionId } });
    expect(held.claim.expiresAt).toBeGreaterThan(g.now());

    await g.ok('POST', `/api/sessions/${sessionId}/stop`, {});
    await g.services.claims.sweep();
    const released = await g.ok('GET', `/api/tasks/${task.id}`);
    expect(released).toMatchObject({ status: 'todo', ready: true });
    expect(released.claim).toBeUndefined();
  });

  it('a spawn with no runner is unchanged: the task stays todo and ready', async () => {
    const g = await clocked();
    const task = await g.task('For a UI terminal');
    const res = await g.call('POST', '/api/sessions/spawn', { projectId: g.project, taskIds: [task.id] });
    expect(res.status).toBe(201);
    expect(res.body.host).toBeNull();
    expect(await g.ok('GET', `/api/tasks/${task.id}`)).toMatchObject({ status: 'todo', ready: true });
  });
});

describe('the CLI sees a spawned task as taken', () => {
  it('session spawn on a runner, then task next --claim for another session finds nothing', async () => {
    const server = await startTestServer();
    // A runner that says hello and stays: the spawn launches on it.
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/hosts/connect`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const welcomed = new Promise((resolve) => ws.once('message', resolve));
    ws.send(JSON.stringify({ type: 'hello', name: 'fake', ...HOST, sessions: [] }));
    await welcomed;

    const maestro = async (args: string[], env: Record<string, string> = {}) => {
      let [stdout, stderr] = ['', ''];
      const code = await run(args, {
        env: { ...cliBaseEnv(), MAESTRO_API_URL: server.url, ...env },
        stdout: (t) => void (stdout += t),
        stderr: (t) => void (stderr += t),
      });
      return { code, stdout: stdout.trim(), stderr: stderr.trim() };
    };
    const project = (await server.call('POST', '/api/projects', { name: 'CLI claims', workingDir: '/tmp' })).body;
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Only task' })).body;
    const other = (await server.call('POST', '/api/sessions', { projectId: project.id, taskIds: [] })).body;

    const spawned = await maestro(['session', 'spawn', '--task-ids', task.id, '--host', 'fake', '--agent', 'shell']);
    expect(spawned.code, spawned.stderr).toBe(0);
    expect(spawned.stdout).toContain('Launching on fake');
    const next = await maestro(['task', 'next', '--claim', '--project-id', project.id, '--session-id', other.id]);
    expect(next).toMatchObject({ code: 0, stdout: 'No ready task.' });
    const again = await maestro(['session', 'spawn', '--task-ids', task.id, '--host', 'fake', '--agent', 'shell']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^maestro: Task \S+ is claimed by session sess_/);
    // The runner leaves before the server stops, and the server has recorded it (nothing is left half done).
    ws.close();
    for (let i = 0; i < 200 && (await server.call('GET', '/api/hosts/fake')).body.status !== 'offline'; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
