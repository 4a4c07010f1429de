import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApp } from '../lib/http/app.js';
import { createLogger } from '../lib/log.js';
import { createServices } from '../lib/services.js';
import { expectError } from './assertions.js';
import { appClient, type Call, onDatabase, runCli, startTestServer, testConfig } from './helpers.js';

/*
 * The task graph and claims (contract §18): dependencies with their exact refusals, derived blockedBy/ready,
 * task:ready, next, claim, claim-next, release, leases with an injected clock, and exactly one winner per task
 * under concurrency, in memory, on disk and after a restart.
 */

/** The app in-process with a clock the test moves, and every broadcast event recorded. */
async function clocked() {
  let now = Date.UTC(2030, 0, 1);
  const config = testConfig();
  const services = await createServices(config, createLogger('error'), () => now);
  const { app } = await createApp(services);
  const events: { type: string; data: any }[] = [];
  await services.hub.subscribe({ filter: {}, readyState: 1, send: (m: string) => void events.push(JSON.parse(m)) });
  const { call, ok } = appClient(app);
  const project = (await ok('POST', '/api/projects', { name: 'Graph' })).id as string;
  const task = (title: string, extra: Record<string, unknown> = {}) => {
    now += 1; // distinct createdAt, so that "oldest first" is well defined
    return ok('POST', '/api/tasks', { projectId: project, title, ...extra });
  };
  const session = (extra: Record<string, unknown> = {}) => ok('POST', '/api/sessions', { projectId: project, taskIds: [], ...extra });
  /** Events since the last call, as [type, data]. A no-op mutation first: follow-up mutations have run by then. */
  const drain = async () => {
    await services.db.mutate(() => {});
    return events.splice(0).map((e) => [e.type, e.data] as [string, any]);
  };
  return {
    services,
    config,
    call,
    ok,
    project,
    task,
    session,
    drain,
    advance: (ms: number) => void (now += ms),
    now: () => now,
    file: (t: { projectId: string; id: string }) =>
      JSON.parse(readFileSync(join(config.dataDir, 'tasks', t.projectId, `${t.id}.json`), 'utf8')),
  };
}

describe('dependencies (§18.1)', () => {
  it('are set on create and by PATCH, served with blockedBy and ready, and never stored derived', async () => {
    const g = await clocked();
    const a = await g.task('A');
    const b = await g.task('B', { dependencies: [a.id, a.id] });
    expect(b).toMatchObject({ dependencies: [a.id], blockedBy: [a.id], ready: false, sessionCount: 0 });
    expect(a).toMatchObject({ dependencies: [], blockedBy: [], ready: true });
    const stored = g.file(b);
    expect(stored.dependencies).toEqual([a.id]);
    for (const derived of ['blockedBy', 'ready', 'sessionCount', 'claim']) expect(derived in stored).toBe(false);

    const c = await g.task('C');
    await g.drain();
    const patched = await g.ok('PATCH', `/api/tasks/${c.id}`, { dependencies: [a.id, b.id] });
    expect(patched).toMatchObject({ dependencies: [a.id, b.id], blockedBy: [a.id, b.id], ready: false });
    expect(await g.drain()).toEqual([['task:updated', patched]]);
    expect((await g.ok('GET', `/api/tasks?projectId=${g.project}`)).map((t: any) => [t.title, t.ready])).toEqual([
      ['A', true],
      ['B', false],
      ['C', false],
    ]);

    // An agent (updateSource session) cannot change them.
    const bySession = await g.ok('PATCH', `/api/tasks/${c.id}`, { dependencies: [], updateSource: 'session' });
    expect(bySession.dependencies).toEqual([a.id, b.id]);
    // An empty list clears them.
    expect(await g.ok('PATCH', `/api/tasks/${c.id}`, { dependencies: [] })).toMatchObject({ dependencies: [], blockedBy: [], ready: true });
  });

  it('refuses unknown, deleted and other-project tasks, itself, and cycles of every length, changing nothing', async () => {
    const g = await clocked();
    const [a, b, c, d] = [await g.task('A'), await g.task('B'), await g.task('C'), await g.task('D')];
    const other = (await g.ok('POST', '/api/projects', { name: 'Other' })).id;
    const foreign = await g.ok('POST', '/api/tasks', { projectId: other, title: 'Foreign' });
    const gone = await g.task('Gone');
    await g.ok('DELETE', `/api/tasks/${gone.id}`);
    await g.ok('PATCH', `/api/tasks/${a.id}`, { dependencies: [b.id] }); // a → b
    await g.ok('PATCH', `/api/tasks/${b.id}`, { dependencies: [c.id] }); // b → c
    await g.ok('PATCH', `/api/tasks/${c.id}`, { dependencies: [d.id] }); // c → d
    const before = await g.ok('GET', `/api/tasks?projectId=${g.project}`);
    await g.drain();

    const patch = (id: string, dependencies: unknown) => g.call('PATCH', `/api/tasks/${id}`, { dependencies });
    let res = await patch(a.id, ['task_nope']);
    expectError(res, 404, 'TASK_NOT_FOUND', 'Task not found');
    expect(res.body.details).toEqual({ taskId: 'task_nope' });
    res = await patch(a.id, [b.id, gone.id]);
    expectError(res, 404, 'TASK_NOT_FOUND');
    expect(res.body.details).toEqual({ taskId: gone.id });
    res = await g.call('POST', '/api/tasks', { projectId: g.project, title: 'X', dependencies: [gone.id] });
    expectError(res, 404, 'TASK_NOT_FOUND');

    res = await patch(a.id, [foreign.id]);
    expectError(res, 400, 'VALIDATION_ERROR', `Task ${foreign.id} belongs to another project`);
    expect(res.body.details).toMatchObject({
      taskId: foreign.id,
      projectId: other,
      issues: [{ path: 'dependencies', message: `Task ${foreign.id} belongs to another project` }],
    });
    expectError(
      await g.call('POST', '/api/tasks', { projectId: g.project, title: 'X', dependencies: [foreign.id] }),
      400,
      'VALIDATION_ERROR',
    );

    // Length 1: itself.
    res = await patch(a.id, [a.id]);
    expectError(res, 400, 'VALIDATION_ERROR', 'A task cannot depend on itself');
    expect(res.body.details.cycle).toEqual([a.id, a.id]);
    // Length 2: b → c, so c → b closes b → c → b.
    res = await patch(c.id, [b.id]);
    expectError(res, 400, 'VALIDATION_ERROR', `Dependencies would form a cycle: ${c.id} → ${b.id} → ${c.id}`);
    expect(res.body.details.cycle).toEqual([c.id, b.id, c.id]);
    // Length 3: a → b → c, so c → a.
    res = await patch(c.id, [d.id, a.id]);
    expect(res.body.details.cycle).toEqual([c.id, a.id, b.id, c.id]);
    // Length 4: a → b → c → d, so d → a.
    res = await patch(d.id, [a.id]);
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.body.details).toEqual({
      cycle: [d.id, a.id, b.id, c.id, d.id],
      issues: [{ path: 'dependencies', message: `Dependencies would form a cycle: ${d.id} → ${a.id} → ${b.id} → ${c.id} → ${d.id}` }],
    });
    // Wrong shapes.
    expectError(await patch(a.id, 'task_x'), 400, 'VALIDATION_ERROR', 'dependencies must be an array of strings');
    expectError(await patch(a.id, [1]), 400, 'VALIDATION_ERROR');

    expect(await g.ok('GET', `/api/tasks?projectId=${g.project}`)).toEqual(before);
    expect(await g.drain()).toEqual([]);
    // A diamond is not a cycle.
    expect((await patch(a.id, [b.id, c.id])).status).toBe(200);
  });

  it('deleting a task removes it from every dependent, each with task:updated', async () => {
    const g = await clocked();
    const a = await g.task('A');
    const b = await g.task('B', { dependencies: [a.id] });
    const c = await g.task('C', { dependencies: [a.id, b.id] });
    await g.drain();
    await g.ok('DELETE', `/api/tasks/${a.id}`);
    const [b2, c2] = [await g.ok('GET', `/api/tasks/${b.id}`), await g.ok('GET', `/api/tasks/${c.id}`)];
    expect(b2).toMatchObject({ dependencies: [], blockedBy: [], ready: true });
    expect(c2).toMatchObject({ dependencies: [b.id], blockedBy: [b.id], ready: false });
    expect(g.file(c2).dependencies).toEqual([b.id]);
    const events = await g.drain();
    expect(events.map(([type]) => type)).toEqual(['task:deleted', 'task:updated', 'task:updated']);
    expect(
      events
        .slice(1)
        .map(([, t]) => t)
        .sort((x: any, y: any) => x.title.localeCompare(y.title)),
    ).toEqual([b2, c2]);
  });

  it('completing a blocker updates each dependent, and the last one emits task:ready', async () => {
    const g = await clocked();
    const [a, b] = [await g.task('A'), await g.task('B')];
    const c = await g.task('C', { dependencies: [a.id, b.id], parentId: a.id });
    await g.drain();

    const doneA = await g.ok('PATCH', `/api/tasks/${a.id}`, { status: 'completed' });
    const c1 = await g.ok('GET', `/api/tasks/${c.id}`);
    expect(c1).toMatchObject({ blockedBy: [b.id], ready: false });
    expect(await g.drain()).toEqual([
      ['task:updated', doneA],
      ['task:updated', c1],
      ['subtask:updated', { taskId: a.id, subtask: c1 }],
    ]);
    expect(await g.ok('GET', `/api/tasks/next?projectId=${g.project}`)).toEqual({ task: await g.ok('GET', `/api/tasks/${b.id}`) });

    const doneB = await g.ok('PATCH', `/api/tasks/${b.id}`, { status: 'completed' });
    const c2 = await g.ok('GET', `/api/tasks/${c.id}`);
    expect(c2).toMatchObject({ blockedBy: [], ready: true });
    expect(c2.updatedAt).toBe(c.updatedAt); // derived fields changed; the stored task did not
    expect(await g.drain()).toEqual([
      ['task:updated', doneB],
      ['task:updated', c2],
      ['subtask:updated', { taskId: a.id, subtask: c2 }],
      ['task:ready', c2],
    ]);
    expect((await g.ok('GET', `/api/tasks/next?projectId=${g.project}`)).task.id).toBe(c.id);

    // Reopening a blocker blocks its dependents again (task:updated, no task:ready).
    await g.ok('PATCH', `/api/tasks/${b.id}`, { status: 'in_progress' });
    expect((await g.drain()).map(([type, t]) => [type, t.id ?? t.taskId, t.ready])).toEqual([
      ['task:updated', b.id, false],
      ['task:updated', c.id, false],
      ['subtask:updated', a.id, undefined],
    ]);
    expect(await g.ok('GET', `/api/tasks/next?projectId=${g.project}`)).toEqual({ task: null });
  });
});

describe('GET /api/tasks/next (§18.2)', () => {
  it('serves the ready task with the highest priority, then the oldest, then the smallest ID', async () => {
    const g = await clocked();
    const next = async () => (await g.ok('GET', `/api/tasks/next?projectId=${g.project}`)).task?.title ?? null;
    expect(await next()).toBeNull();
    const low = await g.task('low', { priority: 'low' });
    expect(await next()).toBe('low');
    const m1 = await g.task('medium 1');
    await g.task('medium 2');
    expect(await next()).toBe('medium 1');
    const parent = await g.task('parent', { priority: 'high' });
    const child = await g.task('child', { priority: 'high', parentId: parent.id });
    expect(await next()).toBe('parent');
    await g.ok('PATCH', `/api/tasks/${parent.id}`, { status: 'in_progress' });
    expect(await next()).toBe('child'); // children are candidates like any task
    await g.ok('PATCH', `/api/tasks/${child.id}`, { dependencies: [low.id] });
    expect(await next()).toBe('medium 1'); // blocked tasks are not
    await g.ok('PATCH', `/api/tasks/${m1.id}`, { priority: 'low' });
    expect(await next()).toBe('medium 2');
    await g.ok('PATCH', `/api/tasks/${low.id}`, { status: 'completed' });
    expect(await next()).toBe('child');

    // Same priority and createdAt: the smaller ID first.
    const h = await clocked();
    h.advance(-1); // the next two tasks share a millisecond
    const [x, y] = await Promise.all([
      h.ok('POST', '/api/tasks', { projectId: h.project, title: 'x' }),
      h.ok('POST', '/api/tasks', { projectId: h.project, title: 'y' }),
    ]);
    expect(x.createdAt).toBe(y.createdAt);
    expect((await h.ok('GET', `/api/tasks/next?projectId=${h.project}`)).task.id).toBe([x.id, y.id].sort()[0]);
  });

  it('needs a known projectId', async () => {
    const g = await clocked();
    expectError(await g.call('GET', '/api/tasks/next'), 400, 'VALIDATION_ERROR', 'projectId is required');
    const res = await g.call('GET', '/api/tasks/next?projectId=proj_nope');
    expectError(res, 404, 'PROJECT_NOT_FOUND', 'Project not found');
    expect(res.body.details).toEqual({ projectId: 'proj_nope' });
  });
});

describe('claims (§18.2)', () => {
  it('a claim sets the lease, moves the task in_progress and links it like the link endpoint', async () => {
    const g = await clocked();
    const t = await g.task('T');
    const s = await g.session();
    await g.drain();
    const claimed = await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: s.id });
    const now = g.now();
    expect(claimed).toEqual({
      ...t,
      status: 'in_progress',
      startedAt: now,
      updatedAt: now,
      sessionIds: [s.id],
      sessionCount: 1,
      ready: false,
      claim: { sessionId: s.id, claimedAt: now, expiresAt: now + 900_000, leaseMs: 900_000 },
    });
    expect(g.file(t).claim).toEqual(claimed.claim);
    const session = await g.ok('GET', `/api/sessions/${s.id}`);
    expect(session.taskIds).toEqual([t.id]);
    expect(session.timeline.at(-1)).toEqual({
      id: expect.any(String),
      type: 'task_started',
      timestamp: now,
      message: 'Added task to session',
      taskId: t.id,
      actor: { kind: 'admin' },
    });
    expect(await g.drain()).toEqual([
      ['session:task_added', { sessionId: s.id, taskId: t.id }],
      ['task:session_added', { taskId: t.id, sessionId: s.id }],
      ['session:updated', session],
      ['task:updated', claimed],
    ]);

    // The holder claiming again renews the lease (and may change its length); nothing else changes.
    g.advance(10_000);
    const renewed = await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: s.id, leaseMs: 60_000 });
    expect(renewed.claim).toEqual({ sessionId: s.id, claimedAt: now, expiresAt: g.now() + 60_000, leaseMs: 60_000 });
    expect(await g.drain()).toEqual([['task:updated', renewed]]);
    expect((await g.ok('GET', `/api/sessions/${s.id}`)).timeline).toEqual(session.timeline);
  });

  it('refuses every bad claim with its exact error, changing nothing', async () => {
    const g = await clocked();
    const [t, dep, done, cancelled] = [await g.task('T'), await g.task('Dep'), await g.task('Done'), await g.task('Cancelled')];
    const blocked = await g.task('Blocked', { dependencies: [dep.id] });
    await g.ok('PATCH', `/api/tasks/${done.id}`, { status: 'completed' });
    await g.ok('PATCH', `/api/tasks/${cancelled.id}`, { status: 'cancelled' });
    const [holder, other, ended] = [await g.session(), await g.session(), await g.session({ status: 'stopped' })];
    const foreignProject = (await g.ok('POST', '/api/projects', { name: 'Other' })).id;
    const foreign = await g.ok('POST', '/api/sessions', { projectId: foreignProject, taskIds: [] });
    const held = await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: holder.id });
    const before = await g.ok('GET', `/api/tasks?projectId=${g.project}`);
    const sessionsBefore = await g.ok('GET', '/api/sessions');
    await g.drain();

    const claim = (id: string, body: unknown) => g.call('POST', `/api/tasks/${id}/claim`, body);
    let res = await claim(t.id, {});
    expectError(res, 400, 'VALIDATION_ERROR', 'sessionId is required');
    for (const leaseMs of [59_999, 86_400_001, 1.5, '60000', null]) {
      expectError(
        await claim(dep.id, { sessionId: other.id, leaseMs }),
        400,
        'VALIDATION_ERROR',
        'leaseMs must be an integer from 60000 to 86400000',
      );
    }
    expectError(await claim('task_nope', { sessionId: other.id }), 404, 'TASK_NOT_FOUND', 'Task not found');
    res = await claim(dep.id, { sessionId: 'sess_nope' });
    expectError(res, 404, 'SESSION_NOT_FOUND', 'Session not found');
    expect(res.body.details).toEqual({ sessionId: 'sess_nope' });
    res = await claim(dep.id, { sessionId: ended.id });
    expectError(res, 400, 'SESSION_NOT_ACTIVE', `Session ${ended.id} has ended (stopped)`);
    expect(res.body.details).toEqual({ sessionId: ended.id });
    res = await claim(dep.id, { sessionId: foreign.id });
    expectError(res, 400, 'VALIDATION_ERROR', `Session ${foreign.id} belongs to another project than the task`);
    res = await claim(t.id, { sessionId: other.id });
    expectError(res, 409, 'TASK_CLAIMED', `Task ${t.id} is claimed by session ${holder.id}`);
    expect(res.body.details).toEqual({ sessionId: holder.id, expiresAt: held.claim.expiresAt });
    res = await claim(blocked.id, { sessionId: other.id });
    expectError(res, 409, 'TASK_BLOCKED', `Task ${blocked.id} has open dependencies: ${dep.id}`);
    expect(res.body.details).toEqual({ blockedBy: [dep.id] });
    res = await claim(done.id, { sessionId: other.id });
    expectError(res, 409, 'TASK_CLOSED', `Task ${done.id} is completed`);
    expect(res.body.details).toEqual({ taskId: done.id, status: 'completed' });
    expectError(await claim(cancelled.id, { sessionId: other.id }), 409, 'TASK_CLOSED', `Task ${cancelled.id} is cancelled`);

    // claim-next: the same session and project checks.
    const next = (body: unknown) => g.call('POST', '/api/tasks/claim-next', body);
    expectError(await next({ sessionId: other.id }), 400, 'VALIDATION_ERROR', 'projectId is required');
    expectError(await next({ projectId: g.project }), 400, 'VALIDATION_ERROR', 'sessionId is required');
    expectError(await next({ projectId: 'proj_nope', sessionId: other.id }), 404, 'PROJECT_NOT_FOUND');
    expectError(await next({ projectId: g.project, sessionId: 'sess_nope' }), 404, 'SESSION_NOT_FOUND');
    expectError(await next({ projectId: g.project, sessionId: ended.id }), 400, 'SESSION_NOT_ACTIVE');
    expectError(await next({ projectId: g.project, sessionId: foreign.id }), 400, 'VALIDATION_ERROR');
    expectError(await next({ projectId: g.project, sessionId: other.id, leaseMs: 1 }), 400, 'VALIDATION_ERROR');

    expect(await g.ok('GET', `/api/tasks?projectId=${g.project}`)).toEqual(before);
    expect(await g.ok('GET', '/api/sessions')).toEqual(sessionsBefore);
    expect(await g.drain()).toEqual([]);
  });

  it('claim-next claims the next ready task, and answers { task: null } when none is left', async () => {
    const g = await clocked();
    const low = await g.task('low', { priority: 'low' });
    const high = await g.task('high', { priority: 'high' });
    const s = await g.session();
    const first = await g.ok('POST', '/api/tasks/claim-next', { projectId: g.project, sessionId: s.id, leaseMs: 120_000 });
    expect(first.task).toMatchObject({ id: high.id, status: 'in_progress', claim: { sessionId: s.id, leaseMs: 120_000 } });
    expect((await g.ok('POST', '/api/tasks/claim-next', { projectId: g.project, sessionId: s.id })).task.id).toBe(low.id);
    await g.drain();
    expect(await g.ok('POST', '/api/tasks/claim-next', { projectId: g.project, sessionId: s.id })).toEqual({ task: null });
    expect(await g.ok('GET', `/api/tasks/next?projectId=${g.project}`)).toEqual({ task: null });
    expect(await g.drain()).toEqual([]);
  });

  it('DELETE …/claim releases for the holder or a person, refuses another session, and is a no-op without a claim', async () => {
    const g = await clocked();
    const [t, u] = [await g.task('T'), await g.task('U')];
    const [holder, other] = [await g.session(), await g.session()];
    await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: holder.id });
    const claimedU = await g.ok('POST', `/api/tasks/${u.id}/claim`, { sessionId: holder.id });
    await g.drain();

    const res = await g.call('DELETE', `/api/tasks/${t.id}/claim`, undefined, { 'x-session-id': other.id });
    expectError(res, 403, 'FORBIDDEN', 'Only the session holding the claim, or a person, may release it');
    expect(await g.drain()).toEqual([]);

    const released = await g.ok('DELETE', `/api/tasks/${t.id}/claim`, undefined, { 'x-session-id': holder.id });
    expect(released).toMatchObject({ status: 'todo', ready: true, sessionIds: [holder.id] });
    expect('claim' in released).toBe(false);
    expect('claim' in g.file(t)).toBe(false);
    expect(await g.drain()).toEqual([
      ['task:updated', released],
      ['task:claim_released', { taskId: t.id, sessionId: holder.id, reason: 'released' }],
    ]);
    // No claim: 200, unchanged, no events.
    expect(await g.ok('DELETE', `/api/tasks/${t.id}/claim`)).toEqual(released);
    expect(await g.drain()).toEqual([]);
    expectError(await g.call('DELETE', '/api/tasks/task_nope/claim'), 404, 'TASK_NOT_FOUND');

    // A person (no session identity) may release anyone's claim; a completed task stays completed.
    await g.ok('PATCH', `/api/tasks/${u.id}`, { status: 'completed' });
    const byPerson = await g.ok('DELETE', `/api/tasks/${u.id}/claim`);
    expect(byPerson).toMatchObject({ status: 'completed', completedAt: expect.any(Number), ready: false });
    expect(byPerson.claim).toBeUndefined();
    expect(claimedU.claim).toBeDefined();
  });
});

describe('leases (§18.3)', () => {
  it("expire with the injected clock, unless the holder's activity renews them", async () => {
    const g = await clocked();
    const [t, u] = [await g.task('T'), await g.task('U')];
    const s = await g.session();
    await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: s.id, leaseMs: 60_000 });
    await g.ok('POST', `/api/tasks/${u.id}/claim`, { sessionId: s.id, leaseMs: 120_000 });
    const expiresAt = () => g.ok('GET', `/api/tasks/${t.id}`).then((x) => x.claim?.expiresAt);

    const uExpiry = () => g.ok('GET', `/api/tasks/${u.id}`).then((x) => x.claim?.expiresAt);
    // Each kind of activity moves the lease to now + leaseMs: a task PATCH that task's, the others every claim of
    // the session (u's lease is 120 s, so only they keep it alive through these 50 s steps).
    const activities: [string, string, unknown][] = [
      ['PATCH', `/api/tasks/${t.id}`, { sessionStatus: 'working', updateSource: 'session', sessionId: s.id }],
      ['POST', `/api/sessions/${s.id}/timeline`, { message: 'progress' }],
      ['POST', `/api/sessions/${s.id}/events`, { type: 'tool_use' }],
      ['POST', `/api/tasks/${t.id}/timeline`, { message: 'step', sessionId: s.id }],
      ['PATCH', `/api/sessions/${s.id}`, { status: 'working' }],
    ];
    for (const [method, path, body] of activities) {
      g.advance(50_000);
      expect(await g.services.claims.sweep()).toBe(0);
      await g.ok(method, path, body);
      expect(await expiresAt(), path).toBe(g.now() + 60_000);
      if (method !== 'PATCH' || path.startsWith('/api/sessions')) expect(await uExpiry(), path).toBe(g.now() + 120_000);
    }
    // Someone else's activity does not renew it.
    const other = await g.session();
    g.advance(30_000);
    await g.ok('PATCH', `/api/tasks/${t.id}`, { sessionStatus: 'working', updateSource: 'session', sessionId: other.id });
    expect(await expiresAt()).toBe(g.now() + 30_000);
    await g.drain();

    // Run out: released by the sweep, back to todo, with the reason.
    g.advance(90_000);
    expect(await g.services.claims.sweep()).toBe(2);
    const [t2, u2] = [await g.ok('GET', `/api/tasks/${t.id}`), await g.ok('GET', `/api/tasks/${u.id}`)];
    expect(t2).toMatchObject({ status: 'todo', ready: true });
    expect(t2.claim).toBeUndefined();
    expect('claim' in g.file(t2)).toBe(false);
    // One mutation releases both, each as task:updated then task:claim_released.
    const events = await g.drain();
    const byTask = (id: string) => events.filter(([, d]) => (d.id ?? d.taskId) === id);
    expect(events).toHaveLength(4);
    expect(byTask(t.id)).toEqual([
      ['task:updated', t2],
      ['task:claim_released', { taskId: t.id, sessionId: s.id, reason: 'expired' }],
    ]);
    expect(byTask(u.id)).toEqual([
      ['task:updated', u2],
      ['task:claim_released', { taskId: u.id, sessionId: s.id, reason: 'expired' }],
    ]);
    expect(await g.services.claims.sweep()).toBe(0);
  });

  it("a busy holder's reports renew its other leases once per step, not on every report", async () => {
    const g = await clocked();
    const [t, u] = [await g.task('T'), await g.task('U')];
    const s = await g.session();
    const claimed = await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: s.id });
    await g.drain();
    const report = () => g.ok('POST', `/api/sessions/${s.id}/timeline`, { message: 'progress' });

    // Reports within the step (a tenth of the lease, at most a minute) leave the task alone: no write, no event.
    for (let i = 0; i < 11; i++) {
      g.advance(5_000);
      await report();
    }
    expect((await g.drain()).map(([type]) => type)).toEqual(Array(11).fill('session:updated'));
    expect((await g.ok('GET', `/api/tasks/${t.id}`)).claim).toEqual(claimed.claim);
    expect(g.file(claimed).claim).toEqual(claimed.claim);

    // The next report, past a minute since the claim, renews it to now + its lease, with its task:updated.
    g.advance(5_000);
    await report();
    const renewed = await g.ok('GET', `/api/tasks/${t.id}`);
    expect(renewed.claim.expiresAt).toBe(g.now() + 900_000);
    expect(g.file(renewed).claim).toEqual(renewed.claim);
    expect(await g.drain()).toEqual([expect.arrayContaining(['session:updated']), ['task:updated', renewed]]);

    // A one-minute lease's step is six seconds.
    await g.ok('POST', `/api/tasks/${u.id}/claim`, { sessionId: s.id, leaseMs: 60_000 });
    g.advance(5_000);
    await report();
    const uExpiry = () => g.ok('GET', `/api/tasks/${u.id}`).then((x) => x.claim.expiresAt);
    expect(await uExpiry()).toBe(g.now() - 5_000 + 60_000);
    g.advance(1_000);
    await report();
    expect(await uExpiry()).toBe(g.now() + 60_000);

    // The task itself touched by its holder renews its lease at once, as claiming again does.
    g.advance(1_000);
    const patched = await g.ok('PATCH', `/api/tasks/${t.id}`, { sessionStatus: 'working', updateSource: 'session', sessionId: s.id });
    expect(patched.claim.expiresAt).toBe(g.now() + 900_000);
  });

  it('a claim whose lease ran out but is not swept yet is not live: another session takes the task', async () => {
    const g = await clocked();
    const t = await g.task('T');
    const [s1, s2] = [await g.session(), await g.session()];
    await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: s1.id, leaseMs: 60_000 });
    g.advance(60_000);
    await g.drain();
    const taken = await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: s2.id });
    expect(taken.claim.sessionId).toBe(s2.id);
    const types = (await g.drain()).map(([type]) => type);
    // The sweep (every 250 ms of real time) may have released the expired claim just before the second claim did:
    // either way the claim is released once, and the task is taken.
    expect(types.slice(-4)).toEqual(['session:task_added', 'task:session_added', 'session:updated', 'task:updated']);
    expect([['task:claim_released'], ['task:updated', 'task:claim_released']]).toContainEqual(types.slice(0, -4));
  });

  it.each([
    ['completed', (g: any, id: string) => g.ok('PATCH', `/api/sessions/${id}`, { status: 'completed' })],
    ['failed', (g: any, id: string) => g.ok('PATCH', `/api/sessions/${id}`, { status: 'failed' })],
    ['stopped', (g: any, id: string) => g.ok('PATCH', `/api/sessions/${id}`, { status: 'stopped' })],
    ['deleted', (g: any, id: string) => g.ok('DELETE', `/api/sessions/${id}`)],
  ])('are released when the holding session ends (%s), with no sweep call', async (_how, end) => {
    const g = await clocked();
    const [t, done] = [await g.task('T'), await g.task('Done')];
    const s = await g.session();
    await g.ok('POST', `/api/tasks/${t.id}/claim`, { sessionId: s.id });
    await g.ok('POST', `/api/tasks/${done.id}/claim`, { sessionId: s.id });
    await g.ok('PATCH', `/api/tasks/${done.id}`, { status: 'completed' });
    await g.drain();
    await end(g, s.id);
    const events = await g.drain();
    const released = events.filter(([type]) => type === 'task:claim_released').map(([, d]) => d);
    expect(released).toEqual([
      { taskId: t.id, sessionId: s.id, reason: 'session_ended' },
      { taskId: done.id, sessionId: s.id, reason: 'session_ended' },
    ]);
    expect(await g.ok('GET', `/api/tasks/${t.id}`)).toMatchObject({ status: 'todo', ready: true });
    const closed = await g.ok('GET', `/api/tasks/${done.id}`);
    expect(closed.status).toBe('completed');
    expect(closed.claim).toBeUndefined();
  });
});

describe('exactly one winner (real server, real files, restart)', () => {
  it('50 concurrent claims of one task: one 200, 49 × 409 TASK_CLAIMED naming the winner', async () => {
    const server = await startTestServer();
    const { call } = server;
    const project = (await call('POST', '/api/projects', { name: 'Race' })).body.id;
    const task = (await call('POST', '/api/tasks', { projectId: project, title: 'Prize' })).body;
    const sessions = await Promise.all(
      Array.from({ length: 50 }, () => call('POST', '/api/sessions', { projectId: project, taskIds: [] }).then((r) => r.body.id)),
    );
    const results = await Promise.all(sessions.map((sessionId) => call('POST', `/api/tasks/${task.id}/claim`, { sessionId })));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.body.claim.sessionId;
    for (const r of results.filter((x) => x.status !== 200)) {
      expectError(r, 409, 'TASK_CLAIMED');
      expect(r.body.details.sessionId).toBe(winner);
    }
    const served = (await call('GET', `/api/tasks/${task.id}`)).body;
    expect(served.claim.sessionId).toBe(winner);
    expect(served.sessionIds).toEqual([winner]);
    const file = join(server.config.dataDir, 'tasks', project, `${task.id}.json`);
    // The file engine's files (§5); on PostgreSQL the restart below shows what was stored.
    if (!onDatabase()) expect(JSON.parse(readFileSync(file, 'utf8')).claim.sessionId).toBe(winner);
    const linked = (await call('GET', `/api/sessions?taskId=${task.id}`)).body.map((s: any) => s.id);
    expect(linked).toEqual([winner]);

    await server.close();
    const again = await startTestServer({ DATA_DIR: server.config.dataDir });
    expect((await again.call('GET', `/api/tasks/${task.id}`)).body).toEqual(served);
    expectError(
      await again.call('POST', `/api/tasks/${task.id}/claim`, { sessionId: sessions.find((s) => s !== winner) }),
      409,
      'TASK_CLAIMED',
    );
  });

  it('50 concurrent claim-next on 10 ready tasks: 10 winners, no task twice, 40 × { task: null }', async () => {
    const server = await startTestServer();
    const { call } = server;
    const project = (await call('POST', '/api/projects', { name: 'Drain' })).body.id;
    const tasks: string[] = [];
    for (let i = 0; i < 10; i++) tasks.push((await call('POST', '/api/tasks', { projectId: project, title: `T${i}` })).body.id);
    // Ten more that are not ready: blocked by T0, or closed.
    for (let i = 0; i < 5; i++) await call('POST', '/api/tasks', { projectId: project, title: `B${i}`, dependencies: [tasks[0]] });
    const sessions = await Promise.all(
      Array.from({ length: 50 }, () => call('POST', '/api/sessions', { projectId: project, taskIds: [] }).then((r) => r.body.id)),
    );
    const results = await Promise.all(
      sessions.map((sessionId) => call('POST', '/api/tasks/claim-next', { projectId: project, sessionId })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const won = results.filter((r) => r.body.task).map((r) => [r.body.task.id, r.body.task.claim.sessionId] as [string, string]);
    expect(won).toHaveLength(10);
    expect(new Set(won.map(([id]) => id))).toEqual(new Set(tasks));
    expect(new Set(won.map(([, s]) => s)).size).toBe(10);
    expect(results.filter((r) => r.body.task === null)).toHaveLength(40);

    const holders = new Map(won);
    const check = async (via: Call, dataDir: string) => {
      for (const id of tasks) {
        const t = (await via('GET', `/api/tasks/${id}`)).body;
        expect(t.claim.sessionId).toBe(holders.get(id));
        expect(t.sessionIds).toEqual([holders.get(id)]);
        if (!onDatabase()) {
          expect(JSON.parse(readFileSync(join(dataDir, 'tasks', project, `${id}.json`), 'utf8')).claim.sessionId).toBe(holders.get(id));
        }
      }
      expect((await via('GET', `/api/tasks/next?projectId=${project}`)).body).toEqual({ task: null });
    };
    await check(call, server.config.dataDir);
    await server.close();
    const again = await startTestServer({ DATA_DIR: server.config.dataDir });
    await check(again.call, server.config.dataDir);
    expect((await again.call('POST', '/api/tasks/claim-next', { projectId: project, sessionId: sessions[0] })).body).toEqual({
      task: null,
    });
  });

  it.skipIf(onDatabase())('after a restart, claims of sessions that ended meanwhile are released', async () => {
    const server = await startTestServer();
    const { call } = server;
    const project = (await call('POST', '/api/projects', { name: 'Crash' })).body.id;
    const task = (await call('POST', '/api/tasks', { projectId: project, title: 'Orphan' })).body;
    const session = (await call('POST', '/api/sessions', { projectId: project, taskIds: [] })).body;
    await call('POST', `/api/tasks/${task.id}/claim`, { sessionId: session.id });
    await server.close();
    // The session file says it ended (a crash before the release was written).
    const file = join(server.config.dataDir, 'sessions', `${session.id}.json`);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), status: 'failed' }, null, 2));
    const again = await startTestServer({ DATA_DIR: server.config.dataDir });
    const ws = await again.listen();
    let served = (await again.call('GET', `/api/tasks/${task.id}`)).body;
    if (served.claim) {
      const [event] = await ws.waitFor(2);
      expect(event.type).toBe('task:updated');
      served = (await again.call('GET', `/api/tasks/${task.id}`)).body;
    }
    expect(served).toMatchObject({ status: 'todo', ready: true });
    expect(served.claim).toBeUndefined();
  });
});

describe('maestro task next --claim (CLI)', () => {
  it('three agents drain a dependency graph: each task once, none before its dependencies', { timeout: 180_000 }, async () => {
    const server = await startTestServer();
    const { call } = server;
    const project = (await call('POST', '/api/projects', { name: 'Drain' })).body.id;
    const env = { MAESTRO_API_URL: server.url, MAESTRO_PROJECT_ID: project, PATH: process.env.PATH ?? '' };
    // In-process: each agent's commands with that agent's environment (the bin itself is proven in cli.test.ts).
    const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });
    const create = async (title: string, extra: Record<string, unknown> = {}) =>
      (await call('POST', '/api/tasks', { projectId: project, title, ...extra })).body.id as string;
    const schema = await create('Schema', { priority: 'high' });
    const api = await create('API');
    const ui = await create('UI', { dependencies: [api] });
    const docs = await create('Docs', { priority: 'low', dependencies: [api, ui] });
    const [add, cycle] = [await cli(['task', 'deps', 'add', api, schema]), await cli(['task', 'deps', 'add', schema, docs])];
    expect(add.stdout).toContain(`depends on: ${schema}`);
    expect(cycle.code).toBe(1);
    expect(cycle.stderr).toContain('Dependencies would form a cycle');
    const [list, tree, next] = await Promise.all([cli(['task', 'deps', 'list', docs]), cli(['task', 'tree']), cli(['task', 'next'])]);
    expect(list.stdout.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${api} .*API  <open>$`)),
      expect.stringMatching(new RegExp(`^${ui} .*UI  <open>$`)),
    ]);
    expect(tree.stdout).toMatch(new RegExp(`${schema} .*Schema  <ready>`));
    expect(tree.stdout).toMatch(new RegExp(`${docs} .*<blocked by ${api}, ${ui}>`));
    expect(next.stdout).toMatch(new RegExp(`^Next: ${schema} `));

    const agents = await Promise.all(
      [1, 2, 3].map(() => call('POST', '/api/sessions', { projectId: project, taskIds: [] }).then((r) => r.body.id as string)),
    );
    const order: string[] = [];
    // Rounds: every agent asks for the next ready task at once; whoever got one completes it.
    for (let round = 0; round < 6 && order.length < 4; round++) {
      const got = await Promise.all(
        agents.map((sessionId) => cli(['task', 'next', '--claim', '--quiet'], { MAESTRO_SESSION_ID: sessionId })),
      );
      const claimed = got.map((r, i) => [r.stdout.trim(), agents[i]!] as const).filter(([taskId]) => taskId);
      expect(claimed).toHaveLength(1); // one ready task at a time in this graph: exactly one agent gets it
      for (const [taskId, sessionId] of claimed) {
        const done = await cli(['task', 'complete', taskId], { MAESTRO_SESSION_ID: sessionId });
        expect(done.code, done.stderr).toBe(0);
        order.push(taskId);
      }
    }
    expect(order).toEqual([schema, api, ui, docs]);
    const final = (await call('GET', `/api/tasks?projectId=${project}`)).body;
    expect(final.every((t: any) => t.status === 'completed' && t.sessionStatus === 'completed')).toBe(true);

    // claim / release from the CLI.
    const extra = await create('Extra');
    const short = await cli(['task', 'claim', extra, '--lease', '5'], { MAESTRO_SESSION_ID: agents[1]! });
    expect(short).toMatchObject({ code: 1, stderr: expect.stringContaining('--lease must be a whole number of milliseconds from 60000') });
    expect((await cli(['task', 'claim', extra], { MAESTRO_SESSION_ID: agents[1]! })).stdout).toMatch(
      new RegExp(`^Claimed ${extra} .*claimed by ${agents[1]}`),
    );
    const refused = await cli(['task', 'release', extra], { MAESTRO_SESSION_ID: agents[2]! });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Only the session holding the claim');
    expect((await cli(['task', 'release', extra], { MAESTRO_SESSION_ID: agents[1]! })).stdout).toMatch(
      new RegExp(`^Released ${extra} .*<ready>`),
    );
  });
});

describe('queue sessions in the CLI (§18.4)', () => {
  it('the processing item is the default task of task get, task complete and report', { timeout: 120_000 }, async () => {
    const server = await startTestServer();
    const { call } = server;
    const project = (await call('POST', '/api/projects', { name: 'Queue' })).body.id;
    const t1 = (await call('POST', '/api/tasks', { projectId: project, title: 'First' })).body.id;
    const t2 = (await call('POST', '/api/tasks', { projectId: project, title: 'Second' })).body.id;
    const spawned = await call('POST', '/api/sessions/spawn', { projectId: project, taskIds: [t1, t2], strategy: 'queue' });
    expect(spawned.status).toBe(201);
    const sessionId = spawned.body.sessionId;
    const env = { ...spawned.body.envVars, MAESTRO_API_URL: server.url, PATH: process.env.PATH ?? '' };
    const cli = (args: string[]) => runCli(args, env);
    await call('POST', `/api/sessions/${sessionId}/queue/start`);
    await call('POST', `/api/sessions/${sessionId}/queue/complete`);
    await call('POST', `/api/sessions/${sessionId}/queue/start`); // now processing t2, while MAESTRO_TASK_IDS starts with t1

    const [get, report] = await Promise.all([cli(['task', 'get']), cli(['report', 'halfway'])]);
    expect(get.stdout).toMatch(new RegExp(`^ID:\\s+${t2}$`, 'm'));
    expect(report.code, report.stderr).toBe(0);
    const complete = await cli(['task', 'complete']);
    expect(complete.stdout).toBe(`Task ${t2} reported completed by session ${sessionId}`);
    const timeline = (await call('GET', `/api/sessions/${sessionId}`)).body.timeline;
    expect(
      timeline
        .filter((e: any) => ['progress', 'task_completed'].includes(e.type))
        .map((e: any) => [e.type, e.taskId])
        .slice(-3),
    ).toEqual([
      ['task_completed', t1],
      ['progress', t2],
      ['task_completed', t2],
    ]);
    // Outside a queue, the first of MAESTRO_TASK_IDS stays the default.
    expect((await runCli(['task', 'get'], { ...env, MAESTRO_STRATEGY: 'simple' })).stdout).toMatch(new RegExp(`^ID:\\s+${t1}$`, 'm'));
  });
});
