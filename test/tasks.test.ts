import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectError, issuePaths, tick } from './assertions.js';
import { type Call, inProcess, onDatabase } from './helpers.js';

/** Tasks (contract §3.3), their stored form (§5), the task↔session mirror (§2.8), paging and ETags (§3.8). */

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

async function makeTask(body: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/tasks', { projectId, title: 'Write tests', ...body });
  expect(res.status).toBe(201);
  return res.body;
}

async function makeSession(taskIds: string[] = []) {
  const res = await call('POST', '/api/sessions', { projectId, taskIds });
  expect(res.status).toBe(201);
  return res.body;
}

const getTask = async (id: string) => (await call('GET', `/api/tasks/${id}`)).body;
const getSession = async (id: string) => (await call('GET', `/api/sessions/${id}`)).body;
const taskFile = (task: { projectId: string; id: string }) => join(dataDir, 'tasks', task.projectId, `${task.id}.json`);

/** The task's file: 2-space pretty JSON, equal to the served task minus the derived `sessionCount`, `blockedBy`, `ready` (§5). */
function expectStored(served: Record<string, any>) {
  const text = readFileSync(taskFile(served as { projectId: string; id: string }), 'utf8');
  const stored = JSON.parse(text);
  expect(text.trimEnd()).toBe(JSON.stringify(stored, null, 2));
  const { sessionCount, blockedBy, ready, ...rest } = served;
  expect(sessionCount).toBe(served.sessionIds.length);
  expect(blockedBy).toEqual(expect.any(Array));
  expect(ready).toEqual(expect.any(Boolean));
  expect(stored).toEqual(rest);
  for (const derived of ['sessionCount', 'blockedBy', 'ready']) expect(derived in stored).toBe(false);
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

describe('POST /api/tasks', () => {
  it.skipIf(onDatabase())('creates a root task with every default, answers 201 and writes tasks/<projectId>/<id>.json', async () => {
    const before = Date.now();
    const res = await call('POST', '/api/tasks', { projectId, title: '  Write tests  ' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^task_\d+_[0-9a-z]{1,9}$/),
      projectId,
      parentId: null,
      title: 'Write tests',
      description: '',
      status: 'todo',
      priority: 'medium',
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
      startedAt: null,
      completedAt: null,
      initialPrompt: '',
      sessionIds: [],
      skillIds: [],
      agentIds: [],
      dependencies: [],
      sessionCount: 0,
      blockedBy: [],
      ready: true,
    });
    expect(res.body.createdAt).toBeGreaterThanOrEqual(before);
    expect(res.body.updatedAt).toBe(res.body.createdAt);
    expect('sessionStatus' in res.body).toBe(false);
    expectStored(res.body);
  });

  it.skipIf(onDatabase())('keeps every optional field it accepts', async () => {
    const parent = await makeTask({ title: 'Parent' });
    const child = await makeTask({
      title: 'Child',
      parentId: parent.id,
      description: 'd',
      priority: 'high',
      initialPrompt: 'go',
      skillIds: ['s1', 's2'],
    });
    expect(child).toMatchObject({
      parentId: parent.id,
      description: 'd',
      priority: 'high',
      initialPrompt: 'go',
      skillIds: ['s1', 's2'],
      status: 'todo',
    });
    expectStored(child);
  });

  it('accepts parentId null as a root task', async () => {
    expect((await makeTask({ parentId: null })).parentId).toBeNull();
  });

  it.skipIf(onDatabase())('ignores status, timestamps, links and unknown fields, and never stores them', async () => {
    const task = await makeTask({
      status: 'completed',
      createdAt: 1,
      updatedAt: 1,
      startedAt: 1,
      completedAt: 1,
      sessionIds: ['sess_x'],
      agentIds: ['a'],
      sessionCount: 9,
      sessionStatus: 'working',
      id: 'task_mine',
      color: 'red',
    });
    expect(task).toMatchObject({
      status: 'todo',
      dependencies: [],
      startedAt: null,
      completedAt: null,
      sessionIds: [],
      agentIds: [],
      sessionCount: 0,
    });
    expect(task.id).not.toBe('task_mine');
    expect(task.createdAt).not.toBe(1);
    expect('color' in task).toBe(false);
    expect('sessionStatus' in task).toBe(false);
    expectStored(task);
    expect(readFileSync(taskFile(task), 'utf8')).not.toContain('color');
  });

  it.each([
    ['missing', { title: 'T' }],
    ['blank', { projectId: '  ', title: 'T' }],
  ])('refuses a %s projectId with 400 "projectId is required"', async (_, body) => {
    const res = await call('POST', '/api/tasks', body);
    expectError(res, 400, 'VALIDATION_ERROR', 'projectId is required');
    expect(issuePaths(res)).toContain('projectId');
  });

  it.each([
    ['missing', {}],
    ['blank', { title: ' \t ' }],
    ['null', { title: null }],
  ])('refuses a %s title with 400 "title is required"', async (_, body) => {
    const res = await call('POST', '/api/tasks', { projectId, ...body });
    expectError(res, 400, 'VALIDATION_ERROR', 'title is required');
    expect(issuePaths(res)).toContain('title');
  });

  it.each([
    ['priority', { priority: 'urgent' }],
    ['skillIds', { skillIds: 'one' }],
    ['description', { description: 5 }],
  ])('refuses an invalid %s with 400 VALIDATION_ERROR', async (field, body) => {
    const res = await call('POST', '/api/tasks', { projectId, title: 'T', ...body });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res)).toContain(field);
  });

  it('answers 404 PROJECT_NOT_FOUND for an unknown project', async () => {
    expectError(await call('POST', '/api/tasks', { projectId: 'proj_1_nope', title: 'T' }), 404, 'PROJECT_NOT_FOUND', 'Project not found');
  });

  it('answers 404 TASK_NOT_FOUND "Parent task not found" for an unknown parent, and stores nothing', async () => {
    const res = await call('POST', '/api/tasks', { projectId, title: 'T', parentId: 'task_1_nope' });
    expectError(res, 404, 'TASK_NOT_FOUND', 'Parent task not found');
    expect((await call('GET', '/api/tasks')).body).toEqual([]);
  });
});

describe('GET /api/tasks/:id', () => {
  it('answers the task with sessionCount', async () => {
    const task = await makeTask();
    const res = await call('GET', `/api/tasks/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(task);
  });

  it.each(['task_1_nope', 'bad.id'])('answers 404 TASK_NOT_FOUND for %s', async (id) => {
    expectError(await call('GET', `/api/tasks/${id}`), 404, 'TASK_NOT_FOUND', 'Task not found');
  });
});

describe('GET /api/tasks (filters)', () => {
  it('lists every task, in creation order, each with sessionCount', async () => {
    const a = await makeTask({ title: 'a' });
    const b = await makeTask({ title: 'b' });
    const s = await makeSession([b.id]);
    const res = await call('GET', '/api/tasks');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([a, { ...b, sessionIds: [s.id], sessionCount: 1, updatedAt: expect.any(Number) }]);
  });

  it('filters by projectId, status and parentId (the literal null = roots), AND-combined', async () => {
    const other = (await call('POST', '/api/projects', { name: 'Beta' })).body.id;
    const root = await makeTask({ title: 'root' });
    const child = await makeTask({ title: 'child', parentId: root.id });
    const grandchild = await makeTask({ title: 'grandchild', parentId: child.id });
    const elsewhere = await makeTask({ projectId: other, title: 'elsewhere' });
    await call('PATCH', `/api/tasks/${child.id}`, { status: 'in_progress' });

    const ids = async (q: string) => (await call('GET', `/api/tasks${q}`)).body.map((t: { id: string }) => t.id);
    expect(await ids(`?projectId=${projectId}`)).toEqual([root.id, child.id, grandchild.id]);
    expect(await ids(`?projectId=${other}`)).toEqual([elsewhere.id]);
    expect(await ids('?projectId=proj_1_nope')).toEqual([]);
    expect(await ids('?status=todo')).toEqual([root.id, grandchild.id, elsewhere.id]);
    expect(await ids('?status=pending')).toEqual([root.id, grandchild.id, elsewhere.id]);
    expect(await ids('?status=in_progress')).toEqual([child.id]);
    expect(await ids(`?parentId=${root.id}`)).toEqual([child.id]);
    expect(await ids('?parentId=null')).toEqual([root.id, elsewhere.id]);
    expect(await ids(`?parentId=null&projectId=${projectId}`)).toEqual([root.id]);
    expect(await ids(`?projectId=${projectId}&status=todo`)).toEqual([root.id, grandchild.id]);
    expect(await ids(`?parentId=${child.id}&status=in_progress`)).toEqual([]);
  });

  it('refuses an unknown status filter with 400 VALIDATION_ERROR', async () => {
    const res = await call('GET', '/api/tasks?status=done');
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res)).toContain('status');
  });
});

describe('GET /api/tasks/:id/children', () => {
  it('lists direct children only, with sessionCount', async () => {
    const root = await makeTask({ title: 'root' });
    const a = await makeTask({ title: 'a', parentId: root.id });
    const b = await makeTask({ title: 'b', parentId: root.id });
    await makeTask({ title: 'grandchild', parentId: a.id });
    const res = await call('GET', `/api/tasks/${root.id}/children`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([a, b]);
    expect((await call('GET', `/api/tasks/${b.id}/children`)).body).toEqual([]);
  });

  it('answers 404 TASK_NOT_FOUND for an unknown parent', async () => {
    expectError(await call('GET', '/api/tasks/task_1_nope/children'), 404, 'TASK_NOT_FOUND', 'Task not found');
  });
});

describe('PATCH /api/tasks/:id', () => {
  it.skipIf(onDatabase())(
    'replaces title (trimmed), description, priority, skillIds, agentIds and sessionStatus, bumping updatedAt',
    async () => {
      const task = await makeTask();
      await tick();
      const res = await call('PATCH', `/api/tasks/${task.id}`, {
        title: ' New title ',
        description: 'new',
        priority: 'low',
        skillIds: ['k'],
        agentIds: ['a1', 'a2'],
        sessionStatus: 'needs_input',
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        ...task,
        title: 'New title',
        description: 'new',
        priority: 'low',
        skillIds: ['k'],
        agentIds: ['a1', 'a2'],
        sessionStatus: 'needs_input',
        updatedAt: expect.any(Number),
      });
      expect(res.body.updatedAt).toBeGreaterThan(task.updatedAt);
      expect(await getTask(task.id)).toEqual(res.body);
      expectStored(res.body);
    },
  );

  it.skipIf(onDatabase())('stores the alias pending as todo and accepts every status in any order', async () => {
    const task = await makeTask();
    for (const status of ['blocked', 'cancelled', 'completed', 'in_progress', 'todo']) {
      expect((await call('PATCH', `/api/tasks/${task.id}`, { status })).body.status).toBe(status);
    }
    await call('PATCH', `/api/tasks/${task.id}`, { status: 'blocked' });
    const res = await call('PATCH', `/api/tasks/${task.id}`, { status: 'pending' });
    expect(res.body.status).toBe('todo');
    expectStored(res.body);
  });

  it.skipIf(onDatabase())('sets startedAt the first time the status becomes in_progress, and never clears or moves it', async () => {
    const task = await makeTask();
    await tick();
    const started = (await call('PATCH', `/api/tasks/${task.id}`, { status: 'in_progress' })).body;
    expect(started.startedAt).toBe(started.updatedAt);
    expect(started.startedAt).toBeGreaterThan(task.createdAt);
    expect(started.completedAt).toBeNull();
    await tick();
    const back = (await call('PATCH', `/api/tasks/${task.id}`, { status: 'todo' })).body;
    expect(back.startedAt).toBe(started.startedAt);
    await tick();
    const again = (await call('PATCH', `/api/tasks/${task.id}`, { status: 'in_progress' })).body;
    expect(again.updatedAt).toBeGreaterThan(started.updatedAt);
    expect(again.startedAt).toBe(started.startedAt);
    expectStored(again);
  });

  it('sets completedAt the first time the status becomes completed, and never clears or moves it', async () => {
    const task = await makeTask();
    await tick();
    const done = (await call('PATCH', `/api/tasks/${task.id}`, { status: 'completed' })).body;
    expect(done.completedAt).toBe(done.updatedAt);
    expect(done.startedAt).toBeNull();
    await tick();
    const reopened = (await call('PATCH', `/api/tasks/${task.id}`, { status: 'in_progress' })).body;
    expect(reopened.completedAt).toBe(done.completedAt);
    expect(reopened.startedAt).toBe(reopened.updatedAt);
    await tick();
    const again = (await call('PATCH', `/api/tasks/${task.id}`, { status: 'completed' })).body;
    expect(again.completedAt).toBe(done.completedAt);
    expect(again.startedAt).toBe(reopened.startedAt);
  });

  it.skipIf(onDatabase())(
    'ignores id, projectId, parentId, initialPrompt, timestamps, timeline, derived fields and unknown keys',
    async () => {
      const parent = await makeTask({ title: 'parent' });
      const task = await makeTask({ parentId: parent.id, initialPrompt: 'p' });
      await tick();
      const res = await call('PATCH', `/api/tasks/${task.id}`, {
        id: 'task_other',
        projectId: 'proj_other',
        parentId: null,
        initialPrompt: 'changed',
        createdAt: 1,
        startedAt: 2,
        completedAt: 3,
        timeline: [{ type: 'x' }],
        sessionCount: 7,
        blockedBy: ['x'],
        ready: false,
        claim: { sessionId: 'sess_x', claimedAt: 1, expiresAt: 2, leaseMs: 1 },
        color: 'red',
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...task, updatedAt: expect.any(Number) });
      expect(res.body.updatedAt).toBeGreaterThan(task.updatedAt);
      expectStored(res.body);
      expect(existsSync(join(dataDir, 'tasks', 'proj_other'))).toBe(false);
    },
  );

  it.skipIf(onDatabase())('accepts sessionId as information only, without storing it', async () => {
    const task = await makeTask();
    const session = await makeSession();
    const res = await call('PATCH', `/api/tasks/${task.id}`, { sessionId: session.id, sessionStatus: 'working' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...task, sessionStatus: 'working', updatedAt: expect.any(Number) });
    expectStored(res.body);
  });

  describe('updateSource: "session"', () => {
    it.skipIf(onDatabase())('applies only sessionStatus and drops every other field, links included', async () => {
      const task = await makeTask();
      const session = await makeSession();
      await tick();
      const res = await call('PATCH', `/api/tasks/${task.id}`, {
        updateSource: 'session',
        sessionId: session.id,
        sessionStatus: 'working',
        title: 'Agent title',
        description: 'x',
        status: 'completed',
        priority: 'high',
        skillIds: ['s'],
        agentIds: ['a'],
        sessionIds: [session.id],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...task, sessionStatus: 'working', updatedAt: expect.any(Number) });
      expect(res.body.updatedAt).toBeGreaterThan(task.updatedAt);
      expect((await getSession(session.id)).taskIds).toEqual([]);
      expectStored(res.body);
    });

    it.skipIf(onDatabase())('still bumps updatedAt when there is no sessionStatus to apply', async () => {
      const task = await makeTask();
      await tick();
      const res = await call('PATCH', `/api/tasks/${task.id}`, { updateSource: 'session', title: 'ignored' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...task, updatedAt: expect.any(Number) });
      expect(res.body.updatedAt).toBeGreaterThan(task.updatedAt);
      expectStored(res.body);
    });

    it('applies every field with updateSource "user"', async () => {
      const task = await makeTask();
      const res = await call('PATCH', `/api/tasks/${task.id}`, { updateSource: 'user', title: 'Mine', sessionStatus: 'queued' });
      expect(res.body).toMatchObject({ title: 'Mine', sessionStatus: 'queued' });
    });
  });

  it.each([
    ['title', { title: '   ' }, 'title cannot be empty'],
    ['status', { status: 'done' }, undefined],
    ['priority', { priority: 'urgent' }, undefined],
    ['sessionStatus', { sessionStatus: 'sleeping' }, undefined],
    ['updateSource', { updateSource: 'robot' }, undefined],
    ['sessionIds', { sessionIds: 'sess_1' }, undefined],
    ['agentIds', { agentIds: [1] }, undefined],
  ])('refuses an invalid %s with 400 VALIDATION_ERROR and changes nothing', async (field, body, message) => {
    const task = await makeTask();
    const res = await call('PATCH', `/api/tasks/${task.id}`, body);
    expectError(res, 400, 'VALIDATION_ERROR', message);
    expect(issuePaths(res).some((p) => p.startsWith(field))).toBe(true);
    expect(await getTask(task.id)).toEqual(task);
  });

  it('answers 404 TASK_NOT_FOUND for an unknown task', async () => {
    expectError(await call('PATCH', '/api/tasks/task_1_nope', { title: 'x' }), 404, 'TASK_NOT_FOUND', 'Task not found');
  });

  describe('sessionIds (mirror sync, §2.8)', () => {
    it.skipIf(onDatabase())('links and unlinks sessions on both sides', async () => {
      const task = await makeTask();
      const [s1, s2, s3] = [await makeSession(), await makeSession(), await makeSession()];
      await tick();
      const linked = await call('PATCH', `/api/tasks/${task.id}`, { sessionIds: [s1.id, s2.id] });
      expect(linked.status).toBe(200);
      expect(linked.body).toMatchObject({ sessionIds: [s1.id, s2.id], sessionCount: 2 });
      expect((await getSession(s1.id)).taskIds).toEqual([task.id]);
      expect((await getSession(s2.id)).taskIds).toEqual([task.id]);
      expect((await getSession(s1.id)).lastActivity).toBeGreaterThan(s1.lastActivity);
      expectStored(linked.body);
      await expectMirror();

      const swapped = await call('PATCH', `/api/tasks/${task.id}`, { sessionIds: [s2.id, s3.id, s3.id] });
      expect(swapped.body).toMatchObject({ sessionIds: [s2.id, s3.id], sessionCount: 2 });
      expect((await getSession(s1.id)).taskIds).toEqual([]);
      expect((await getSession(s3.id)).taskIds).toEqual([task.id]);
      await expectMirror();

      const cleared = await call('PATCH', `/api/tasks/${task.id}`, { sessionIds: [] });
      expect(cleared.body).toMatchObject({ sessionIds: [], sessionCount: 0 });
      await expectMirror();
      expect((await call('GET', `/api/sessions?taskId=${task.id}`)).body).toEqual([]);
    });

    it('answers 404 for an unknown session and changes neither side', async () => {
      const task = await makeTask();
      const s1 = await makeSession([task.id]);
      const before = await getTask(task.id);
      const res = await call('PATCH', `/api/tasks/${task.id}`, { sessionIds: ['sess_1_nope'], title: 'not applied' });
      expectError(res, 404, 'SESSION_NOT_FOUND', 'Session not found');
      expect(await getTask(task.id)).toEqual(before);
      expect((await getSession(s1.id)).taskIds).toEqual([task.id]);
      await expectMirror();
    });
  });
});

describe('DELETE /api/tasks/:id', () => {
  it('deletes the task and its file', async () => {
    const task = await makeTask();
    const res = await call('DELETE', `/api/tasks/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, id: task.id });
    expect(existsSync(taskFile(task))).toBe(false);
    expectError(await call('GET', `/api/tasks/${task.id}`), 404, 'TASK_NOT_FOUND', 'Task not found');
  });

  it('keeps children, with their now-dangling parentId', async () => {
    const parent = await makeTask({ title: 'parent' });
    const child = await makeTask({ title: 'child', parentId: parent.id });
    await call('DELETE', `/api/tasks/${parent.id}`);
    expect(await getTask(child.id)).toEqual(child);
    expect((await call('GET', `/api/tasks?parentId=${parent.id}`)).body).toEqual([child]);
  });

  it.skipIf(onDatabase())("removes its ID from every session's taskIds", async () => {
    const task = await makeTask();
    const other = await makeTask({ title: 'other' });
    const s1 = await makeSession([task.id, other.id]);
    const s2 = await makeSession([task.id]);
    await tick();
    await call('DELETE', `/api/tasks/${task.id}`);
    const [after1, after2] = [await getSession(s1.id), await getSession(s2.id)];
    expect(after1.taskIds).toEqual([other.id]);
    expect(after2.taskIds).toEqual([]);
    expect(after1.lastActivity).toBeGreaterThan(s1.lastActivity);
    expect(JSON.parse(readFileSync(join(dataDir, 'sessions', `${s2.id}.json`), 'utf8')).taskIds).toEqual([]);
    await expectMirror();
  });

  it('answers 404 TASK_NOT_FOUND for an unknown or already deleted task', async () => {
    const task = await makeTask();
    await call('DELETE', `/api/tasks/${task.id}`);
    expectError(await call('DELETE', `/api/tasks/${task.id}`), 404, 'TASK_NOT_FOUND', 'Task not found');
  });
});

describe('POST /api/tasks/:id/timeline', () => {
  it("appends a progress entry to the session's timeline on behalf of the task", async () => {
    const task = await makeTask();
    const session = await makeSession([task.id]);
    await tick();
    const res = await call('POST', `/api/tasks/${task.id}/timeline`, { message: 'Half done', sessionId: session.id });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, taskId: task.id, sessionId: session.id, message: 'Half done', type: 'progress' });
    const after = await getSession(session.id);
    expect(after.timeline).toEqual([
      ...session.timeline,
      {
        id: expect.stringMatching(/^evt_\d+_[0-9a-z]{1,9}$/),
        type: 'progress',
        timestamp: after.lastActivity,
        message: 'Half done',
        taskId: task.id,
        // §23: an entry added through the API says who added it (the admin of an open loopback server here).
        actor: { kind: 'admin' },
      },
    ]);
    expect(after.lastActivity).toBeGreaterThan(session.lastActivity);
  });

  it('stores the given type, and works for a session the task is not linked to', async () => {
    const task = await makeTask();
    const session = await makeSession();
    const res = await call('POST', `/api/tasks/${task.id}/timeline`, { message: 'Shipped', sessionId: session.id, type: 'milestone' });
    expect(res.body.type).toBe('milestone');
    expect((await getSession(session.id)).timeline.at(-1)).toMatchObject({ type: 'milestone', message: 'Shipped', taskId: task.id });
  });

  it.each([
    ['message', { sessionId: 'sess_x' }, 'message is required'],
    ['message', { message: '  ', sessionId: 'sess_x' }, 'message is required'],
    ['sessionId', { message: 'm' }, 'sessionId is required'],
    ['type', { message: 'm', sessionId: 'sess_x', type: 'Update!' }, undefined],
  ])('refuses a bad %s with 400 VALIDATION_ERROR', async (field, body, message) => {
    const task = await makeTask();
    const res = await call('POST', `/api/tasks/${task.id}/timeline`, body);
    expectError(res, 400, 'VALIDATION_ERROR', message);
    expect(issuePaths(res)).toContain(field);
  });

  it('answers 404 TASK_NOT_FOUND for an unknown task, and writes nothing', async () => {
    const session = await makeSession();
    const res = await call('POST', '/api/tasks/task_1_nope/timeline', { message: 'm', sessionId: session.id });
    expectError(res, 404, 'TASK_NOT_FOUND', 'Task not found');
    expect(await getSession(session.id)).toEqual(session);
  });

  it('answers 404 SESSION_NOT_FOUND for an unknown session', async () => {
    const task = await makeTask();
    const res = await call('POST', `/api/tasks/${task.id}/timeline`, { message: 'm', sessionId: 'sess_1_nope' });
    expectError(res, 404, 'SESSION_NOT_FOUND', 'Session not found');
  });
});

describe('sessionCount (derived, never stored)', () => {
  it.skipIf(onDatabase())('follows the links in every answer, while the file never holds it', async () => {
    const parent = await makeTask({ title: 'parent' });
    const task = await makeTask({ parentId: parent.id });
    const s1 = await makeSession([task.id]);
    await makeSession([task.id]);
    const served = await getTask(task.id);
    expect(served.sessionCount).toBe(2);
    expectStored(served);
    expect((await call('GET', '/api/tasks')).body.find((t: { id: string }) => t.id === task.id).sessionCount).toBe(2);
    expect((await call('GET', `/api/tasks/${parent.id}/children`)).body[0].sessionCount).toBe(2);
    expect((await call('PATCH', `/api/tasks/${task.id}`, { title: 'x' })).body.sessionCount).toBe(2);
    await call('DELETE', `/api/sessions/${s1.id}/tasks/${task.id}`);
    const after = await getTask(task.id);
    expect(after.sessionCount).toBe(1);
    expectStored(after);
  });
});

describe('paging and ETags of GET /api/tasks (§3.8)', () => {
  it('pages a filtered list with limit and cursor', async () => {
    const other = (await call('POST', '/api/projects', { name: 'Beta' })).body.id;
    const mine = [];
    for (let i = 0; i < 5; i++) {
      mine.push(await makeTask({ title: `t${i}` }));
      await makeTask({ projectId: other, title: `o${i}` });
    }
    const first = await call('GET', `/api/tasks?projectId=${projectId}&limit=3`);
    expect(first.body).toEqual(mine.slice(0, 3));
    const cursor = first.headers.get('x-next-cursor');
    expect(cursor).toBeTruthy();
    const second = await call('GET', `/api/tasks?projectId=${projectId}&limit=3&cursor=${cursor}`);
    expect(second.body).toEqual(mine.slice(3));
    expect(second.headers.get('x-next-cursor')).toBeNull();
  });

  it.each(['0', '1001', 'ten'])('refuses limit=%s with 400 VALIDATION_ERROR', async (limit) => {
    expectError(await call('GET', `/api/tasks?limit=${limit}`), 400, 'VALIDATION_ERROR');
  });

  it('serves a list read again after any change as the current state, with a new ETag', async () => {
    const task = await makeTask({ title: 'Before' });
    const path = `/api/tasks?projectId=${projectId}`;
    const first = await call('GET', path);
    expect((await call('GET', path)).headers.get('etag')).toBe(first.headers.get('etag'));
    await call('PATCH', `/api/tasks/${task.id}`, { title: 'After' });
    const again = await call('GET', path, undefined, { 'if-none-match': first.headers.get('etag')! });
    expect(again.status).toBe(200);
    expect(again.body.find((t: any) => t.id === task.id).title).toBe('After');
    expect(again.headers.get('etag')).not.toBe(first.headers.get('etag'));
  });

  it('answers 304 to a matching If-None-Match until the task changes, even by a link', async () => {
    const task = await makeTask();
    for (const path of [`/api/tasks/${task.id}`, '/api/tasks', `/api/tasks?projectId=${projectId}`]) {
      const tag = (await call('GET', path)).headers.get('etag');
      expect(tag, path).toBeTruthy();
      const same = await call('GET', path, undefined, { 'if-none-match': tag! });
      expect(same.status, path).toBe(304);
      expect(same.body).toBeUndefined();
    }
    const tag = (await call('GET', `/api/tasks/${task.id}`)).headers.get('etag')!;
    await makeSession([task.id]);
    const changed = await call('GET', `/api/tasks/${task.id}`, undefined, { 'if-none-match': tag });
    expect(changed.status).toBe(200);
    expect(changed.body.sessionCount).toBe(1);
  });

  it('tags answers built on each request too (the next task), and keeps error statuses', async () => {
    const task = await makeTask();
    const path = `/api/tasks/next?projectId=${projectId}`;
    const first = await call('GET', path);
    expect(first.body.task.id).toBe(task.id);
    const tag = first.headers.get('etag')!;
    expect(tag).toMatch(/^"[0-9a-f]{40}"$/);
    expect((await call('GET', path, undefined, { 'if-none-match': tag })).status).toBe(304);
    await call('PATCH', `/api/tasks/${task.id}`, { status: 'completed' });
    const after = await call('GET', path, undefined, { 'if-none-match': tag });
    expect(after.status).toBe(200);
    expect(after.body.task?.id).not.toBe(task.id);
    const missing = await call('GET', '/api/tasks/next?projectId=proj_missing');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('PROJECT_NOT_FOUND');
  });
});
