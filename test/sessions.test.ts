import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectError, issuePaths, tick } from './assertions.js';
import { type Call, inProcess } from './helpers.js';

/** Sessions (contract §3.4), their links to tasks and the mirror (§2.8), paging and ETags (§3.8). */

let call: Call;
let dataDir: string;
let projectId: string;
// Each test's app is closed after it: on PostgreSQL, its connections go with it.
beforeEach(async () => {
  const app = await inProcess();
  ({
    call,
    config: { dataDir },
  } = app);
  projectId = (await call('POST', '/api/projects', { name: 'Alpha' })).body.id;
  return app.close;
});

const EVT_ID = expect.stringMatching(/^evt_\d+_[0-9a-z]{1,9}$/);
/** Who wrote each entry (§23): these tests call an open loopback server, which acts as the admin. */
const ADMIN_ACTOR = { kind: 'admin' };

async function makeTask(title = 'Task') {
  const res = await call('POST', '/api/tasks', { projectId, title });
  expect(res.status).toBe(201);
  return res.body;
}

async function makeSession(body: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/sessions', { projectId, taskIds: [], ...body });
  expect(res.status).toBe(201);
  return res.body;
}

const getTask = async (id: string) => (await call('GET', `/api/tasks/${id}`)).body;
const getSession = async (id: string) => (await call('GET', `/api/sessions/${id}`)).body;
const sessionFile = (id: string) => join(dataDir, 'sessions', `${id}.json`);

/** The session's file: 2-space pretty JSON, equal to the served session (§5). */
function expectStored(served: { id: string }) {
  const text = readFileSync(sessionFile(served.id), 'utf8');
  const stored = JSON.parse(text);
  expect(text.trimEnd()).toBe(JSON.stringify(stored, null, 2));
  expect(stored).toEqual(served);
}

/** `sid ∈ task.sessionIds` ⇔ `tid ∈ session.taskIds`, over everything the server holds (§2.8). */
async function expectMirror() {
  const tasks: any[] = (await call('GET', '/api/tasks')).body;
  const sessions: any[] = (await call('GET', '/api/sessions')).body;
  const fromTasks = tasks.flatMap((t) => t.sessionIds.map((s: string) => `${t.id}|${s}`)).sort();
  const fromSessions = sessions.flatMap((s) => s.taskIds.map((t: string) => `${t}|${s.id}`)).sort();
  expect(fromTasks).toEqual(fromSessions);
  for (const t of tasks) expect(t.sessionCount).toBe(t.sessionIds.length);
}

describe('POST /api/sessions', () => {
  it('creates an idle session with every default and a session_started entry, answers 201 and writes the file', async () => {
    const before = Date.now();
    const res = await call('POST', '/api/sessions', { projectId, taskIds: [] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^sess_\d+_[0-9a-z]{1,9}$/),
      projectId,
      taskIds: [],
      name: 'Unnamed Session',
      env: {},
      strategy: 'simple',
      status: 'idle',
      startedAt: expect.any(Number),
      lastActivity: expect.any(Number),
      completedAt: null,
      hostname: hostname(),
      platform: process.platform,
      events: [],
      timeline: [{ id: EVT_ID, type: 'session_started', timestamp: expect.any(Number), message: 'Session created', actor: ADMIN_ACTOR }],
      host: null,
      agent: null,
      run: null,
      attention: null,
      workspace: null,
    });
    expect(res.body.startedAt).toBeGreaterThanOrEqual(before);
    expect(res.body.lastActivity).toBe(res.body.startedAt);
    expect(res.body.timeline[0].timestamp).toBe(res.body.startedAt);
    expectStored(res.body);
  });

  it('links each task in order: timeline entries, task.sessionIds and task.updatedAt', async () => {
    const [t1, t2] = [await makeTask('one'), await makeTask('two')];
    await tick();
    const res = await call('POST', '/api/sessions', { projectId, taskIds: [t1.id, t2.id, t1.id] });
    expect(res.status).toBe(201);
    const session = res.body;
    expect(session.taskIds).toEqual([t1.id, t2.id]);
    expect(session.timeline).toEqual([
      { id: EVT_ID, type: 'session_started', timestamp: session.startedAt, message: 'Session created', actor: ADMIN_ACTOR },
      {
        id: EVT_ID,
        type: 'task_started',
        timestamp: session.startedAt,
        message: 'Started working on task',
        taskId: t1.id,
        actor: ADMIN_ACTOR,
      },
      {
        id: EVT_ID,
        type: 'task_started',
        timestamp: session.startedAt,
        message: 'Started working on task',
        taskId: t2.id,
        actor: ADMIN_ACTOR,
      },
    ]);
    for (const task of [t1, t2]) {
      const after = await getTask(task.id);
      expect(after).toEqual({ ...task, sessionIds: [session.id], sessionCount: 1, updatedAt: session.startedAt });
      expect(after.updatedAt).toBeGreaterThan(task.updatedAt);
    }
    expectStored(session);
    await expectMirror();
  });

  it('keeps id, name, agentId, strategy, status (alias running = working), env and metadata when given', async () => {
    const res = await call('POST', '/api/sessions', {
      projectId,
      taskIds: [],
      id: 'my-Session_1',
      name: 'Builder',
      agentId: 'agent-7',
      strategy: 'queue',
      status: 'running',
      env: { A: '1' },
      metadata: { origin: 'cli', nested: { n: 1 } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: 'my-Session_1',
      name: 'Builder',
      agentId: 'agent-7',
      strategy: 'queue',
      status: 'working',
      env: { A: '1' },
      metadata: { origin: 'cli', nested: { n: 1 } },
    });
    expectStored(res.body);
    expect(await getSession('my-Session_1')).toEqual(res.body);
  });

  it.each(['simple', 'queue', 'tree'])('accepts strategy %s', async (strategy) => {
    expect((await makeSession({ strategy })).strategy).toBe(strategy);
  });

  it('does not create a queue, even for strategy queue', async () => {
    const task = await makeTask();
    const session = await makeSession({ strategy: 'queue', taskIds: [task.id] });
    expect(existsSync(join(dataDir, 'queues', `${session.id}.json`))).toBe(false);
  });

  it('ignores server-owned and unknown fields and never stores them', async () => {
    const res = await call('POST', '/api/sessions', {
      projectId,
      taskIds: [],
      hostname: 'evil',
      platform: 'plan9',
      startedAt: 1,
      lastActivity: 1,
      completedAt: 1,
      events: [{ type: 'x' }],
      timeline: [{ type: 'milestone', message: 'm' }],
      color: 'red',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ hostname: hostname(), platform: process.platform, completedAt: null, events: [] });
    expect(res.body.startedAt).not.toBe(1);
    expect(res.body.timeline).toHaveLength(1);
    expect('color' in res.body).toBe(false);
    expect(readFileSync(sessionFile(res.body.id), 'utf8')).not.toContain('color');
  });

  it('never lets __proto__, constructor or prototype keys reach the stored metadata', async () => {
    const raw = `{"projectId":"${projectId}","taskIds":[],"metadata":{"__proto__":{"polluted":true},"constructor":{"x":1},"prototype":1,"ok":1}}`;
    const res = await call('POST', '/api/sessions', raw);
    expect(res.status).toBe(201);
    expect(res.body.metadata).toEqual({ ok: 1 });
    expect(JSON.parse(readFileSync(sessionFile(res.body.id), 'utf8')).metadata).toEqual({ ok: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts the legacy scalar taskId as taskIds: [taskId]', async () => {
    const task = await makeTask();
    const res = await call('POST', '/api/sessions', { projectId, taskId: task.id });
    expect(res.status).toBe(201);
    expect(res.body.taskIds).toEqual([task.id]);
    expect(res.body.timeline.at(-1)).toMatchObject({ type: 'task_started', taskId: task.id });
    expect((await getTask(task.id)).sessionIds).toEqual([res.body.id]);
    expect('taskId' in res.body).toBe(false);
  });

  it('prefers taskIds over the legacy taskId', async () => {
    const [t1, t2] = [await makeTask('one'), await makeTask('two')];
    const res = await call('POST', '/api/sessions', { projectId, taskIds: [t2.id], taskId: t1.id });
    expect(res.body.taskIds).toEqual([t2.id]);
    expect((await getTask(t1.id)).sessionIds).toEqual([]);
  });

  it('checks taskIds before projectId: "taskIds is required"', async () => {
    for (const body of [{}, { projectId }, { taskIds: null, projectId }]) {
      const res = await call('POST', '/api/sessions', body);
      expectError(res, 400, 'VALIDATION_ERROR', 'taskIds is required');
      expect(issuePaths(res)[0]).toBe('taskIds');
    }
  });

  it('then "projectId is required", taskIds: [] being allowed', async () => {
    for (const body of [{ taskIds: [] }, { taskIds: [], projectId: '  ' }]) {
      const res = await call('POST', '/api/sessions', body);
      expectError(res, 400, 'VALIDATION_ERROR', 'projectId is required');
      expect(issuePaths(res)).toContain('projectId');
    }
  });

  it.each([
    ['taskIds', { taskIds: 'task_1' }],
    ['taskIds', { taskIds: [1] }],
    ['status', { status: 'paused' }],
    ['strategy', { strategy: 'swarm' }],
    ['env', { env: { A: 1 } }],
    ['env', { env: ['A=1'] }],
    ['metadata', { metadata: 'x' }],
    ['metadata', { metadata: [1] }],
    ['name', { name: 5 }],
  ])('refuses an invalid %s with 400 VALIDATION_ERROR', async (field, body) => {
    const res = await call('POST', '/api/sessions', { projectId, taskIds: [], ...body });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res).some((p) => p.startsWith(field))).toBe(true);
  });

  it.each(['has space', 'dot.dot', '../escape', 'x'.repeat(129), ''])(
    'refuses the supplied id %j with 400 VALIDATION_ERROR',
    async (id) => {
      const res = await call('POST', '/api/sessions', { projectId, taskIds: [], id });
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(issuePaths(res)).toContain('id');
      expect((await call('GET', '/api/sessions')).body).toEqual([]);
    },
  );

  it('accepts a supplied id of 128 characters', async () => {
    expect((await makeSession({ id: 'x'.repeat(128) })).id).toBe('x'.repeat(128));
  });

  it('answers 409 CONFLICT for a supplied id that exists, and never overwrites it', async () => {
    const task = await makeTask();
    const first = await makeSession({ id: 'sess_fixed', name: 'First' });
    const res = await call('POST', '/api/sessions', { projectId, taskIds: [task.id], id: 'sess_fixed', name: 'Second' });
    expectError(res, 409, 'CONFLICT');
    expect(await getSession('sess_fixed')).toEqual(first);
    expectStored(first);
    expect((await getTask(task.id)).sessionIds).toEqual([]);
  });

  it('answers 404 PROJECT_NOT_FOUND for an unknown project', async () => {
    expectError(
      await call('POST', '/api/sessions', { projectId: 'proj_1_nope', taskIds: [] }),
      404,
      'PROJECT_NOT_FOUND',
      'Project not found',
    );
  });

  it('answers 404 TASK_NOT_FOUND for any unknown task, and links nothing', async () => {
    const task = await makeTask();
    const res = await call('POST', '/api/sessions', { projectId, taskIds: [task.id, 'task_1_nope'] });
    expectError(res, 404, 'TASK_NOT_FOUND', 'Task not found');
    expect((await call('GET', '/api/sessions')).body).toEqual([]);
    expect(await getTask(task.id)).toEqual(task);
  });
});

describe('GET /api/sessions/:id', () => {
  it('answers the session', async () => {
    const session = await makeSession();
    const res = await call('GET', `/api/sessions/${session.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(session);
  });

  it.each(['sess_1_nope', 'bad.id'])('answers 404 SESSION_NOT_FOUND for %s', async (id) => {
    expectError(await call('GET', `/api/sessions/${id}`), 404, 'SESSION_NOT_FOUND', 'Session not found');
  });
});

describe('GET /api/sessions (filters)', () => {
  it('filters by projectId, taskId, status and active=true, AND-combined, in a stable order', async () => {
    const other = (await call('POST', '/api/projects', { name: 'Beta' })).body.id;
    const [t1, t2] = [await makeTask('one'), await makeTask('two')];
    const idle = await makeSession({ taskIds: [t1.id] });
    const working = await makeSession({ taskIds: [t1.id, t2.id], status: 'running' });
    const done = await makeSession({ taskIds: [t2.id] });
    const stopped = await makeSession();
    const failed = await makeSession();
    const elsewhere = await makeSession({ projectId: other });
    await call('PATCH', `/api/sessions/${done.id}`, { status: 'completed' });
    await call('PATCH', `/api/sessions/${stopped.id}`, { status: 'stopped' });
    await call('PATCH', `/api/sessions/${failed.id}`, { status: 'failed' });

    const ids = async (q: string) => (await call('GET', `/api/sessions${q}`)).body.map((s: { id: string }) => s.id);
    const mine = [idle.id, working.id, done.id, stopped.id, failed.id];
    expect(await ids('')).toEqual([...mine, elsewhere.id]);
    expect(await ids(`?projectId=${projectId}`)).toEqual(mine);
    expect(await ids(`?projectId=${other}`)).toEqual([elsewhere.id]);
    expect(await ids(`?taskId=${t1.id}`)).toEqual([idle.id, working.id]);
    expect(await ids(`?taskId=${t2.id}`)).toEqual([working.id, done.id]);
    expect(await ids('?taskId=task_1_nope')).toEqual([]);
    expect(await ids('?status=working')).toEqual([working.id]);
    expect(await ids('?status=running')).toEqual([working.id]);
    expect(await ids('?status=completed')).toEqual([done.id]);
    expect(await ids('?active=true')).toEqual([idle.id, working.id, stopped.id, failed.id, elsewhere.id]);
    expect(await ids(`?active=true&taskId=${t2.id}`)).toEqual([working.id]);
    expect(await ids(`?projectId=${other}&taskId=${t1.id}`)).toEqual([]);
    expect(await ids(`?projectId=${projectId}&status=idle`)).toEqual([idle.id]);
  });

  it('refuses an unknown status filter with 400 VALIDATION_ERROR', async () => {
    const res = await call('GET', '/api/sessions?status=paused');
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res)).toContain('status');
  });
});

describe('PATCH /api/sessions/:id', () => {
  it('replaces status (alias running = working) and agentId, and bumps lastActivity', async () => {
    const session = await makeSession();
    await tick();
    const res = await call('PATCH', `/api/sessions/${session.id}`, { status: 'running', agentId: 'agent-1' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...session, status: 'working', agentId: 'agent-1', lastActivity: expect.any(Number) });
    expect(res.body.lastActivity).toBeGreaterThan(session.lastActivity);
    expect(await getSession(session.id)).toEqual(res.body);
    expectStored(res.body);
  });

  it.each(['completed', 'failed', 'stopped'])('sets completedAt to now when status becomes %s', async (status) => {
    const session = await makeSession();
    await tick();
    const res = await call('PATCH', `/api/sessions/${session.id}`, { status });
    expect(res.body.status).toBe(status);
    expect(res.body.completedAt).toBe(res.body.lastActivity);
    expect(res.body.completedAt).toBeGreaterThan(session.startedAt);
  });

  it('leaves completedAt null for the other statuses', async () => {
    const session = await makeSession();
    for (const status of ['working', 'idle', 'spawning']) {
      expect((await call('PATCH', `/api/sessions/${session.id}`, { status })).body.completedAt).toBeNull();
    }
  });

  it('shallow-merges env and appends events and timeline entries with server IDs and timestamps', async () => {
    const session = await makeSession({ env: { A: '1', B: '2' } });
    const res = await call('PATCH', `/api/sessions/${session.id}`, {
      env: { B: 'two', C: '3' },
      events: [{ type: 'tool_use', data: { tool: 'bash' } }, { type: 'note' }],
      timeline: [{ type: 'milestone', message: 'Halfway', taskId: 'task_x', metadata: { pct: 50 } }],
    });
    expect(res.status).toBe(200);
    const now = res.body.lastActivity;
    expect(res.body.env).toEqual({ A: '1', B: 'two', C: '3' });
    expect(res.body.events).toEqual([
      { id: EVT_ID, timestamp: now, type: 'tool_use', data: { tool: 'bash' } },
      { id: EVT_ID, timestamp: now, type: 'note' },
    ]);
    expect(res.body.timeline).toEqual([
      ...session.timeline,
      {
        id: EVT_ID,
        type: 'milestone',
        timestamp: now,
        message: 'Halfway',
        taskId: 'task_x',
        metadata: { pct: 50 },
        actor: { kind: 'admin' },
      },
    ]);
    const more = await call('PATCH', `/api/sessions/${session.id}`, { events: [{ type: 'third' }] });
    expect(more.body.events.map((e: { type: string }) => e.type)).toEqual(['tool_use', 'note', 'third']);
    expectStored(more.body);
  });

  it('ignores name, metadata, strategy, projectId, timestamps, hostname, platform, id and unknown keys', async () => {
    const session = await makeSession({ metadata: { a: 1 } });
    await tick();
    const res = await call('PATCH', `/api/sessions/${session.id}`, {
      name: 'New',
      metadata: { b: 2 },
      strategy: 'queue',
      projectId: 'proj_other',
      completedAt: 1,
      startedAt: 1,
      hostname: 'evil',
      platform: 'plan9',
      id: 'sess_other',
      color: 'red',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...session, lastActivity: expect.any(Number) });
    expect(res.body.lastActivity).toBeGreaterThan(session.lastActivity);
    expectStored(res.body);
    expect(existsSync(sessionFile('sess_other'))).toBe(false);
  });

  it.each([
    ['status', { status: 'paused' }],
    ['taskIds', { taskIds: 'task_1' }],
    ['env', { env: 'A=1' }],
    ['events', { events: [{ data: 1 }] }],
    ['timeline', { timeline: [{ type: 'Update!', message: 'm' }] }],
    ['timeline', { timeline: [{ type: 'progress' }] }],
  ])('refuses an invalid %s with 400 VALIDATION_ERROR and changes nothing', async (field, body) => {
    const session = await makeSession();
    const res = await call('PATCH', `/api/sessions/${session.id}`, body);
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res).some((p) => p.startsWith(field))).toBe(true);
    expect(await getSession(session.id)).toEqual(session);
  });

  it('answers 404 SESSION_NOT_FOUND for an unknown session', async () => {
    expectError(await call('PATCH', '/api/sessions/sess_1_nope', { status: 'idle' }), 404, 'SESSION_NOT_FOUND', 'Session not found');
  });

  describe('taskIds (mirror sync, §2.8)', () => {
    it('links and unlinks tasks on both sides', async () => {
      const [t1, t2, t3] = [await makeTask('one'), await makeTask('two'), await makeTask('three')];
      const session = await makeSession({ taskIds: [t1.id] });
      await tick();
      const res = await call('PATCH', `/api/sessions/${session.id}`, { taskIds: [t2.id, t3.id] });
      expect(res.status).toBe(200);
      expect(res.body.taskIds).toEqual([t2.id, t3.id]);
      expect((await getTask(t1.id)).sessionIds).toEqual([]);
      const after2 = await getTask(t2.id);
      expect(after2).toMatchObject({ sessionIds: [session.id], sessionCount: 1 });
      expect(after2.updatedAt).toBeGreaterThan(t2.updatedAt);
      expect((await getTask(t3.id)).sessionIds).toEqual([session.id]);
      expectStored(res.body);
      await expectMirror();

      await call('PATCH', `/api/sessions/${session.id}`, { taskIds: [] });
      for (const t of [t1, t2, t3]) expect((await getTask(t.id)).sessionIds).toEqual([]);
      await expectMirror();
    });

    it('answers 404 TASK_NOT_FOUND for an unknown task and changes neither side', async () => {
      const t1 = await makeTask();
      const session = await makeSession({ taskIds: [t1.id] });
      const res = await call('PATCH', `/api/sessions/${session.id}`, { taskIds: ['task_1_nope'], status: 'working' });
      expectError(res, 404, 'TASK_NOT_FOUND', 'Task not found');
      expect(await getSession(session.id)).toEqual(session);
      expect((await getTask(t1.id)).sessionIds).toEqual([session.id]);
      await expectMirror();
    });
  });
});

describe('DELETE /api/sessions/:id', () => {
  it("deletes the session and its file, and removes it from its tasks' sessionIds", async () => {
    const [t1, t2] = [await makeTask('one'), await makeTask('two')];
    const session = await makeSession({ taskIds: [t1.id, t2.id] });
    const keep = await makeSession({ taskIds: [t1.id] });
    await tick();
    const res = await call('DELETE', `/api/sessions/${session.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, id: session.id });
    expect(existsSync(sessionFile(session.id))).toBe(false);
    expectError(await call('GET', `/api/sessions/${session.id}`), 404, 'SESSION_NOT_FOUND', 'Session not found');
    const after1 = await getTask(t1.id);
    expect(after1).toMatchObject({ sessionIds: [keep.id], sessionCount: 1 });
    expect(after1.updatedAt).toBeGreaterThan(keep.startedAt);
    expect((await getTask(t2.id)).sessionIds).toEqual([]);
    const file = JSON.parse(readFileSync(join(dataDir, 'tasks', projectId, `${t2.id}.json`), 'utf8'));
    expect(file.sessionIds).toEqual([]);
    await expectMirror();
  });

  it('answers 404 SESSION_NOT_FOUND for an unknown or already deleted session', async () => {
    const session = await makeSession();
    await call('DELETE', `/api/sessions/${session.id}`);
    expectError(await call('DELETE', `/api/sessions/${session.id}`), 404, 'SESSION_NOT_FOUND', 'Session not found');
  });
});

describe('POST /api/sessions/:id/events', () => {
  it('appends an event and answers the session', async () => {
    const session = await makeSession();
    await tick();
    const res = await call('POST', `/api/sessions/${session.id}/events`, { type: 'output', data: { line: 'hello' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...session,
      events: [{ id: EVT_ID, timestamp: res.body.lastActivity, type: 'output', data: { line: 'hello' } }],
      lastActivity: expect.any(Number),
    });
    expect(res.body.lastActivity).toBeGreaterThan(session.lastActivity);
    const second = await call('POST', `/api/sessions/${session.id}/events`, { type: 'exit' });
    expect(second.body.events.map((e: { type: string }) => e.type)).toEqual(['output', 'exit']);
    expectStored(second.body);
  });

  it.each([[{}], [{ type: '  ' }], [{ data: 1 }]])('refuses %j with 400 "type is required"', async (body) => {
    const session = await makeSession();
    const res = await call('POST', `/api/sessions/${session.id}/events`, body);
    expectError(res, 400, 'VALIDATION_ERROR', 'type is required');
    expect(await getSession(session.id)).toEqual(session);
  });

  it('answers 404 SESSION_NOT_FOUND for an unknown session', async () => {
    expectError(await call('POST', '/api/sessions/sess_1_nope/events', { type: 'x' }), 404, 'SESSION_NOT_FOUND', 'Session not found');
  });
});

describe('POST /api/sessions/:id/timeline', () => {
  it('appends a progress entry by default', async () => {
    const session = await makeSession();
    await tick();
    const res = await call('POST', `/api/sessions/${session.id}/timeline`, { message: 'Working' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...session,
      timeline: [
        ...session.timeline,
        // §23: an entry added through the API says who added it (here the admin of an open loopback server).
        { id: EVT_ID, type: 'progress', timestamp: res.body.lastActivity, message: 'Working', actor: { kind: 'admin' } },
      ],
      lastActivity: expect.any(Number),
    });
    expect(res.body.lastActivity).toBeGreaterThan(session.lastActivity);
    expectStored(res.body);
  });

  it('keeps type, metadata and an unchecked taskId', async () => {
    const session = await makeSession();
    const res = await call('POST', `/api/sessions/${session.id}/timeline`, {
      message: 'Stuck',
      type: 'task_blocked',
      taskId: 'task_1_unknown',
      metadata: { reason: 'deps' },
    });
    expect(res.status).toBe(200);
    expect(res.body.timeline.at(-1)).toEqual({
      id: EVT_ID,
      type: 'task_blocked',
      timestamp: res.body.lastActivity,
      message: 'Stuck',
      taskId: 'task_1_unknown',
      metadata: { reason: 'deps' },
      actor: { kind: 'admin' },
    });
  });

  it.each([
    ['message', {}, 'message is required'],
    ['message', { message: ' ' }, 'message is required'],
    ['type', { message: 'm', type: 'Update!' }, undefined],
    ['metadata', { message: 'm', metadata: [1] }, undefined],
  ])('refuses a bad %s with 400 VALIDATION_ERROR', async (field, body, message) => {
    const session = await makeSession();
    const res = await call('POST', `/api/sessions/${session.id}/timeline`, body);
    expectError(res, 400, 'VALIDATION_ERROR', message);
    expect(issuePaths(res)).toContain(field);
    expect(await getSession(session.id)).toEqual(session);
  });

  it('answers 404 SESSION_NOT_FOUND for an unknown session', async () => {
    expectError(await call('POST', '/api/sessions/sess_1_nope/timeline', { message: 'm' }), 404, 'SESSION_NOT_FOUND', 'Session not found');
  });
});

describe('POST /api/sessions/:id/tasks/:taskId (link)', () => {
  it('links both sides, appends "Added task to session" and answers the full session', async () => {
    const task = await makeTask();
    const session = await makeSession();
    await tick();
    const res = await call('POST', `/api/sessions/${session.id}/tasks/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...session,
      taskIds: [task.id],
      timeline: [
        ...session.timeline,
        {
          id: EVT_ID,
          type: 'task_started',
          timestamp: res.body.lastActivity,
          message: 'Added task to session',
          taskId: task.id,
          actor: ADMIN_ACTOR,
        },
      ],
      lastActivity: expect.any(Number),
    });
    expect(res.body.lastActivity).toBeGreaterThan(session.lastActivity);
    const after = await getTask(task.id);
    expect(after).toEqual({ ...task, sessionIds: [session.id], sessionCount: 1, updatedAt: res.body.lastActivity });
    expectStored(res.body);
    await expectMirror();
  });

  it('adds no duplicate when already linked, but still appends the timeline entry', async () => {
    const task = await makeTask();
    const session = await makeSession({ taskIds: [task.id] });
    const res = await call('POST', `/api/sessions/${session.id}/tasks/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.body.taskIds).toEqual([task.id]);
    expect(res.body.timeline).toHaveLength(session.timeline.length + 1);
    expect(res.body.timeline.at(-1)).toMatchObject({ type: 'task_started', message: 'Added task to session', taskId: task.id });
    expect((await getTask(task.id)).sessionIds).toEqual([session.id]);
    await expectMirror();
  });

  it('answers 404 NOT_FOUND "Session not found" / "Task not found", and changes nothing', async () => {
    const task = await makeTask();
    const session = await makeSession();
    expectError(await call('POST', `/api/sessions/sess_1_nope/tasks/${task.id}`), 404, 'NOT_FOUND', 'Session not found');
    expectError(await call('POST', `/api/sessions/${session.id}/tasks/task_1_nope`), 404, 'NOT_FOUND', 'Task not found');
    expectError(await call('POST', `/api/sessions/${session.id}/tasks/bad.id`), 404, 'NOT_FOUND', 'Task not found');
    expect(await getSession(session.id)).toEqual(session);
    expect(await getTask(task.id)).toEqual(task);
  });
});

describe('DELETE /api/sessions/:id/tasks/:taskId (unlink)', () => {
  it('unlinks both sides, appends "Removed task from session" and answers the full session', async () => {
    const [t1, t2] = [await makeTask('one'), await makeTask('two')];
    const session = await makeSession({ taskIds: [t1.id, t2.id] });
    await tick();
    const res = await call('DELETE', `/api/sessions/${session.id}/tasks/${t1.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...session,
      taskIds: [t2.id],
      timeline: [
        ...session.timeline,
        {
          id: EVT_ID,
          type: 'task_completed',
          timestamp: res.body.lastActivity,
          message: 'Removed task from session',
          taskId: t1.id,
          actor: ADMIN_ACTOR,
        },
      ],
      lastActivity: expect.any(Number),
    });
    const after = await getTask(t1.id);
    expect(after).toMatchObject({ sessionIds: [], sessionCount: 0, updatedAt: res.body.lastActivity });
    expect((await getTask(t2.id)).sessionIds).toEqual([session.id]);
    expectStored(res.body);
    await expectMirror();
  });

  it('succeeds when they were not linked, still appending the entry', async () => {
    const task = await makeTask();
    const session = await makeSession();
    const res = await call('DELETE', `/api/sessions/${session.id}/tasks/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.body.taskIds).toEqual([]);
    expect(res.body.timeline.at(-1)).toMatchObject({ type: 'task_completed', message: 'Removed task from session', taskId: task.id });
    await expectMirror();
  });

  it('answers 404 NOT_FOUND "Session not found" / "Task not found"', async () => {
    const task = await makeTask();
    const session = await makeSession({ taskIds: [task.id] });
    expectError(await call('DELETE', `/api/sessions/sess_1_nope/tasks/${task.id}`), 404, 'NOT_FOUND', 'Session not found');
    expectError(await call('DELETE', `/api/sessions/${session.id}/tasks/task_1_nope`), 404, 'NOT_FOUND', 'Task not found');
    expect(await getSession(session.id)).toEqual(session);
  });
});

describe('paging and ETags of GET /api/sessions (§3.8)', () => {
  it('pages with limit and cursor, combined with a filter', async () => {
    const task = await makeTask();
    const linked = [];
    for (let i = 0; i < 4; i++) {
      linked.push(await makeSession({ taskIds: [task.id] }));
      await makeSession();
    }
    const ids = (list: { id: string }[]) => list.map((s) => s.id);
    const first = await call('GET', `/api/sessions?taskId=${task.id}&limit=3`);
    expect(ids(first.body)).toEqual(ids(linked.slice(0, 3)));
    const cursor = first.headers.get('x-next-cursor');
    expect(cursor).toBeTruthy();
    const second = await call('GET', `/api/sessions?taskId=${task.id}&limit=3&cursor=${cursor}`);
    expect(ids(second.body)).toEqual(ids(linked.slice(3)));
    expect(second.headers.get('x-next-cursor')).toBeNull();
  });

  it.each(['0', '1001', '1e2'])('refuses limit=%s with 400 VALIDATION_ERROR', async (limit) => {
    expectError(await call('GET', `/api/sessions?limit=${limit}`), 400, 'VALIDATION_ERROR');
  });

  it('answers 304 to a matching If-None-Match until the session changes', async () => {
    const session = await makeSession();
    for (const path of [`/api/sessions/${session.id}`, '/api/sessions', '/api/sessions?active=true']) {
      const tag = (await call('GET', path)).headers.get('etag');
      expect(tag, path).toBeTruthy();
      expect((await call('GET', path, undefined, { 'if-none-match': tag! })).status, path).toBe(304);
    }
    const tag = (await call('GET', `/api/sessions/${session.id}`)).headers.get('etag')!;
    await call('POST', `/api/sessions/${session.id}/events`, { type: 'x' });
    const changed = await call('GET', `/api/sessions/${session.id}`, undefined, { 'if-none-match': tag });
    expect(changed.status).toBe(200);
    expect(changed.body.events).toHaveLength(1);
  });
});
