import { describe, expect, it, onTestFinished } from 'vitest';
import { type Answer, type Listener, listen, settle, startTestServer } from './helpers.js';

/**
 * Live events over a real WebSocket (contract §4): the envelope, the exact sequence of §4.5 for the project, task and
 * session operations, client messages, /ws-status and the upgrade path. One server and one listening client for the
 * whole file, so `seq` must continue by exactly one from each batch of events to the next.
 */

const server = await startTestServer();
const { call } = server;
const client = await server.listen();
const wsUrl = server.url.replace(/^http/, 'ws');

/** The last `seq` seen by `client`; every batch must start right after it. */
let lastSeq: number | undefined;

/** Opens one more client for this test only. */
async function openClient(path = '/ws'): Promise<Listener> {
  const extra = await listen(wsUrl + path);
  onTestFinished(() => extra.ws.terminate());
  return extra;
}

/** Checks the envelope of a batch (§4.2) and that its seq continues the stream; returns the batch's data. */
function checkBatch(events: any[], types: string[], since: number) {
  const previous = lastSeq ?? events[0]?.seq - 1;
  if (events.length) lastSeq = events.at(-1).seq; // set first, so that one failure does not fail every later test
  expect(events.map((e) => e.type)).toEqual(types);
  events.forEach((e, i) => {
    // §17: every event that concerns one project names it; project events name their own project.
    expect(Object.keys(e).sort()).toEqual(['actor', 'data', 'event', 'projectId', 'seq', 'timestamp', 'type']);
    // §23: these tests call without a token, as the admin of an open loopback server.
    expect(e.actor).toEqual({ kind: 'admin' });
    if (e.type.startsWith('project:')) expect(e.projectId).toBe(e.data.id);
    else if (e.data.projectId) expect(e.projectId).toBe(e.data.projectId);
    expect(e.event).toBe(e.type);
    expect(Number.isInteger(e.timestamp)).toBe(true);
    expect(e.timestamp).toBeGreaterThanOrEqual(since);
    expect(e.timestamp).toBeLessThanOrEqual(Date.now());
    expect(e.seq).toBe(previous + 1 + i);
  });
  return events.map((e) => e.data);
}

/**
 * Runs a request and asserts that exactly `types` were broadcast for it, in this order, and nothing after them.
 * Returns the answer and each event's `data`.
 */
async function expectEvents(request: () => Promise<Answer>, types: string[]) {
  client.clear();
  const since = Date.now();
  const res = await request();
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  await client.waitFor(types.length);
  await settle();
  return { res, data: checkBatch(client.events(), types, since) };
}

/** Like expectEvents for set-up steps: waits for the events but not for silence (the next batch's seq check catches extras). */
async function setup(request: () => Promise<Answer>, types: string[]) {
  client.clear();
  const since = Date.now();
  const res = await request();
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  checkBatch(await client.waitFor(types.length), types, since);
  return res.body;
}

const makeProject = (name = 'Alpha') => setup(() => call('POST', '/api/projects', { name }), ['project:created']);
const makeTask = (projectId: string, parentId?: string) =>
  setup(
    () => call('POST', '/api/tasks', { projectId, title: 'T', parentId }),
    parentId ? ['task:created', 'subtask:created'] : ['task:created'],
  );
const makeSession = (projectId: string, tasks: { id: string; parentId: string | null }[] = []) =>
  setup(
    () => call('POST', '/api/sessions', { projectId, taskIds: tasks.map((t) => t.id) }),
    ['session:created', ...tasks.flatMap((t) => ['task:session_added', 'task:updated', ...(t.parentId ? ['subtask:updated'] : [])])],
  );

const getTask = async (id: string) => (await call('GET', `/api/tasks/${id}`)).body;
const getSession = async (id: string) => (await call('GET', `/api/sessions/${id}`)).body;
const getProject = async (id: string) => (await call('GET', `/api/projects/${id}`)).body;

/** Waits for a condition about the server's answers (not a timing assertion: it only bounds the wait). */
async function until(check: () => Promise<boolean>, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('project events', () => {
  it('POST /api/projects → project:created with the stored project', async () => {
    const { res, data } = await expectEvents(() => call('POST', '/api/projects', { name: 'Alpha' }), ['project:created']);
    expect(data[0]).toEqual(res.body);
    expect(data[0]).toEqual(await getProject(res.body.id));
  });

  it('PUT /api/projects/:id → project:updated with the stored project', async () => {
    const project = await makeProject();
    const { res, data } = await expectEvents(() => call('PUT', `/api/projects/${project.id}`, { description: 'd' }), ['project:updated']);
    expect(data[0]).toEqual(res.body);
    expect(data[0]).toEqual(await getProject(project.id));
    expect(data[0].description).toBe('d');
  });

  it('DELETE /api/projects/:id → project:deleted {id}', async () => {
    const project = await makeProject();
    const { data } = await expectEvents(() => call('DELETE', `/api/projects/${project.id}`), ['project:deleted']);
    expect(data[0]).toEqual({ id: project.id });
  });
});

describe('task events', () => {
  it('POST /api/tasks → task:created with the served task (sessionCount included)', async () => {
    const project = await makeProject();
    const { res, data } = await expectEvents(() => call('POST', '/api/tasks', { projectId: project.id, title: 'Root' }), ['task:created']);
    expect(data[0]).toEqual(res.body);
    expect(data[0]).toEqual(await getTask(res.body.id));
    expect(data[0].sessionCount).toBe(0);
  });

  it('POST /api/tasks for a child → task:created, then subtask:created {taskId: parent, subtask}', async () => {
    const project = await makeProject();
    const parent = await makeTask(project.id);
    const { res, data } = await expectEvents(
      () => call('POST', '/api/tasks', { projectId: project.id, title: 'Child', parentId: parent.id }),
      ['task:created', 'subtask:created'],
    );
    expect(data[0]).toEqual(res.body);
    expect(data[1]).toEqual({ taskId: parent.id, subtask: res.body });
  });

  it('PATCH /api/tasks/:id → task:updated with the stored task', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const { res, data } = await expectEvents(() => call('PATCH', `/api/tasks/${task.id}`, { status: 'in_progress' }), ['task:updated']);
    expect(data[0]).toEqual(res.body);
    expect(data[0]).toEqual(await getTask(task.id));
    expect(data[0].startedAt).toEqual(expect.any(Number));
  });

  it('PATCH of a child → task:updated, then subtask:updated {taskId: parent, subtask}', async () => {
    const project = await makeProject();
    const parent = await makeTask(project.id);
    const child = await makeTask(project.id, parent.id);
    const { res, data } = await expectEvents(
      () => call('PATCH', `/api/tasks/${child.id}`, { title: 'Renamed' }),
      ['task:updated', 'subtask:updated'],
    );
    expect(data[0]).toEqual(res.body);
    expect(data[1]).toEqual({ taskId: parent.id, subtask: res.body });
  });

  it('PATCH with updateSource "session" → task:updated even when nothing but updatedAt changes', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const { res, data } = await expectEvents(
      () => call('PATCH', `/api/tasks/${task.id}`, { updateSource: 'session', title: 'dropped' }),
      ['task:updated'],
    );
    expect(data[0]).toEqual(res.body);
    expect(data[0].title).toBe(task.title);
  });

  it('PATCH adding a session → task:updated, session:task_added, task:session_added, session:updated', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id);
    const { data } = await expectEvents(
      () => call('PATCH', `/api/tasks/${task.id}`, { sessionIds: [session.id] }),
      ['task:updated', 'session:task_added', 'task:session_added', 'session:updated'],
    );
    expect(data[0]).toEqual(await getTask(task.id));
    expect(data[0]).toMatchObject({ sessionIds: [session.id], sessionCount: 1 });
    expect(data[1]).toEqual({ sessionId: session.id, taskId: task.id });
    expect(data[2]).toEqual({ taskId: task.id, sessionId: session.id });
    expect(data[3]).toEqual(await getSession(session.id));
    expect(data[3].taskIds).toEqual([task.id]);
  });

  it('PATCH removing a session → task:updated, session:task_removed, task:session_removed, session:updated', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id, [task]);
    const { data } = await expectEvents(
      () => call('PATCH', `/api/tasks/${task.id}`, { sessionIds: [] }),
      ['task:updated', 'session:task_removed', 'task:session_removed', 'session:updated'],
    );
    expect(data[0]).toEqual(await getTask(task.id));
    expect(data[0].sessionIds).toEqual([]);
    expect(data[1]).toEqual({ sessionId: session.id, taskId: task.id });
    expect(data[2]).toEqual({ taskId: task.id, sessionId: session.id });
    expect(data[3]).toEqual(await getSession(session.id));
    expect(data[3].taskIds).toEqual([]);
  });

  it('DELETE /api/tasks/:id → task:deleted, subtask:deleted, then per session: session:task_removed, session:updated', async () => {
    const project = await makeProject();
    const parent = await makeTask(project.id);
    const child = await makeTask(project.id, parent.id);
    const s1 = await makeSession(project.id, [child]);
    const s2 = await makeSession(project.id, [child, parent]);
    const { res, data } = await expectEvents(
      () => call('DELETE', `/api/tasks/${child.id}`),
      ['task:deleted', 'subtask:deleted', 'session:task_removed', 'session:updated', 'session:task_removed', 'session:updated'],
    );
    expect(res.body).toEqual({ success: true, id: child.id });
    expect(data[0]).toEqual({ id: child.id });
    expect(data[1]).toEqual({ taskId: parent.id, subtaskId: child.id });
    expect(data[2]).toEqual({ sessionId: s1.id, taskId: child.id });
    expect(data[3]).toEqual(await getSession(s1.id));
    expect(data[3].taskIds).toEqual([]);
    expect(data[4]).toEqual({ sessionId: s2.id, taskId: child.id });
    expect(data[5]).toEqual(await getSession(s2.id));
    expect(data[5].taskIds).toEqual([parent.id]);
  });

  it('DELETE of an unlinked root task → task:deleted only', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const { data } = await expectEvents(() => call('DELETE', `/api/tasks/${task.id}`), ['task:deleted']);
    expect(data[0]).toEqual({ id: task.id });
  });

  it('POST /api/tasks/:id/timeline → session:updated with the stored session', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id, [task]);
    const { data } = await expectEvents(
      () => call('POST', `/api/tasks/${task.id}/timeline`, { message: 'Half way', sessionId: session.id }),
      ['session:updated'],
    );
    expect(data[0]).toEqual(await getSession(session.id));
    expect(data[0].timeline.at(-1)).toMatchObject({ type: 'progress', message: 'Half way', taskId: task.id });
  });
});

describe('session events', () => {
  it('POST /api/sessions without tasks → session:created with the stored session', async () => {
    const project = await makeProject();
    const { res, data } = await expectEvents(
      () => call('POST', '/api/sessions', { projectId: project.id, taskIds: [] }),
      ['session:created'],
    );
    expect(data[0]).toEqual(res.body);
    expect(data[0]).toEqual(await getSession(res.body.id));
  });

  it('POST /api/sessions → session:created, then per task task:session_added and task:updated (+ subtask:updated)', async () => {
    const project = await makeProject();
    const parent = await makeTask(project.id);
    const child = await makeTask(project.id, parent.id);
    const { res, data } = await expectEvents(
      () => call('POST', '/api/sessions', { projectId: project.id, taskIds: [child.id, parent.id] }),
      ['session:created', 'task:session_added', 'task:updated', 'subtask:updated', 'task:session_added', 'task:updated'],
    );
    const sid = res.body.id;
    expect(data[0]).toEqual(res.body);
    expect(data[0].taskIds).toEqual([child.id, parent.id]);
    expect(data[1]).toEqual({ taskId: child.id, sessionId: sid });
    expect(data[2]).toEqual(await getTask(child.id));
    expect(data[2]).toMatchObject({ sessionIds: [sid], sessionCount: 1 });
    expect(data[3]).toEqual({ taskId: parent.id, subtask: data[2] });
    expect(data[4]).toEqual({ taskId: parent.id, sessionId: sid });
    expect(data[5]).toEqual(await getTask(parent.id));
  });

  it('POST /api/sessions with the legacy taskId → the same events as taskIds: [taskId]', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const { res, data } = await expectEvents(
      () => call('POST', '/api/sessions', { projectId: project.id, taskId: task.id }),
      ['session:created', 'task:session_added', 'task:updated'],
    );
    expect(data[1]).toEqual({ taskId: task.id, sessionId: res.body.id });
  });

  it('PATCH /api/sessions/:id → session:updated with the stored session', async () => {
    const project = await makeProject();
    const session = await makeSession(project.id);
    const { res, data } = await expectEvents(
      () => call('PATCH', `/api/sessions/${session.id}`, { status: 'running', env: { A: '1' } }),
      ['session:updated'],
    );
    expect(data[0]).toEqual(res.body);
    expect(data[0]).toEqual(await getSession(session.id));
    expect(data[0].status).toBe('working');
  });

  it('PATCH of taskIds → session:updated, then per added task session:task_added, task:session_added, task:updated', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id);
    const { data } = await expectEvents(
      () => call('PATCH', `/api/sessions/${session.id}`, { taskIds: [task.id] }),
      ['session:updated', 'session:task_added', 'task:session_added', 'task:updated'],
    );
    expect(data[0]).toEqual(await getSession(session.id));
    expect(data[0].taskIds).toEqual([task.id]);
    expect(data[1]).toEqual({ sessionId: session.id, taskId: task.id });
    expect(data[2]).toEqual({ taskId: task.id, sessionId: session.id });
    expect(data[3]).toEqual(await getTask(task.id));
    expect(data[3].sessionIds).toEqual([session.id]);
  });

  it('PATCH of taskIds → session:updated, then per removed task session:task_removed, task:session_removed, task:updated', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id, [task]);
    const { data } = await expectEvents(
      () => call('PATCH', `/api/sessions/${session.id}`, { taskIds: [] }),
      ['session:updated', 'session:task_removed', 'task:session_removed', 'task:updated'],
    );
    expect(data[0]).toEqual(await getSession(session.id));
    expect(data[1]).toEqual({ sessionId: session.id, taskId: task.id });
    expect(data[2]).toEqual({ taskId: task.id, sessionId: session.id });
    expect(data[3]).toEqual(await getTask(task.id));
    expect(data[3].sessionIds).toEqual([]);
  });

  it('DELETE /api/sessions/:id → session:deleted, then per task task:session_removed and task:updated', async () => {
    const project = await makeProject();
    const t1 = await makeTask(project.id);
    const t2 = await makeTask(project.id);
    const session = await makeSession(project.id, [t1, t2]);
    const { data } = await expectEvents(
      () => call('DELETE', `/api/sessions/${session.id}`),
      ['session:deleted', 'task:session_removed', 'task:updated', 'task:session_removed', 'task:updated'],
    );
    expect(data[0]).toEqual({ id: session.id });
    expect(data[1]).toEqual({ taskId: t1.id, sessionId: session.id });
    expect(data[2]).toEqual(await getTask(t1.id));
    expect(data[2]).toMatchObject({ sessionIds: [], sessionCount: 0 });
    expect(data[3]).toEqual({ taskId: t2.id, sessionId: session.id });
    expect(data[4]).toEqual(await getTask(t2.id));
  });

  it('POST /api/sessions/:id/events → session:updated', async () => {
    const project = await makeProject();
    const session = await makeSession(project.id);
    const { res, data } = await expectEvents(
      () => call('POST', `/api/sessions/${session.id}/events`, { type: 'output', data: { line: 'hi' } }),
      ['session:updated'],
    );
    expect(data[0]).toEqual(res.body);
    expect(data[0].events.at(-1)).toMatchObject({ type: 'output', data: { line: 'hi' } });
  });

  it('POST /api/sessions/:id/timeline → session:updated', async () => {
    const project = await makeProject();
    const session = await makeSession(project.id);
    const { res, data } = await expectEvents(
      () => call('POST', `/api/sessions/${session.id}/timeline`, { message: 'm', type: 'milestone' }),
      ['session:updated'],
    );
    expect(data[0]).toEqual(res.body);
    expect(data[0].timeline.at(-1)).toMatchObject({ type: 'milestone', message: 'm' });
  });

  it('link → session:task_added, task:session_added, session:updated, task:updated', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id);
    const { res, data } = await expectEvents(
      () => call('POST', `/api/sessions/${session.id}/tasks/${task.id}`),
      ['session:task_added', 'task:session_added', 'session:updated', 'task:updated'],
    );
    expect(data[0]).toEqual({ sessionId: session.id, taskId: task.id });
    expect(data[1]).toEqual({ taskId: task.id, sessionId: session.id });
    expect(data[2]).toEqual(res.body);
    expect(data[2]).toEqual(await getSession(session.id));
    expect(data[3]).toEqual(await getTask(task.id));
    expect(data[3].sessionIds).toEqual([session.id]);
  });

  it('link of a child task → … task:updated, then subtask:updated', async () => {
    const project = await makeProject();
    const parent = await makeTask(project.id);
    const child = await makeTask(project.id, parent.id);
    const session = await makeSession(project.id);
    const { data } = await expectEvents(
      () => call('POST', `/api/sessions/${session.id}/tasks/${child.id}`),
      ['session:task_added', 'task:session_added', 'session:updated', 'task:updated', 'subtask:updated'],
    );
    expect(data[4]).toEqual({ taskId: parent.id, subtask: await getTask(child.id) });
  });

  it('unlink → session:task_removed, task:session_removed, session:updated, task:updated', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id, [task]);
    const { res, data } = await expectEvents(
      () => call('DELETE', `/api/sessions/${session.id}/tasks/${task.id}`),
      ['session:task_removed', 'task:session_removed', 'session:updated', 'task:updated'],
    );
    expect(data[0]).toEqual({ sessionId: session.id, taskId: task.id });
    expect(data[1]).toEqual({ taskId: task.id, sessionId: session.id });
    expect(data[2]).toEqual(res.body);
    expect(data[2].taskIds).toEqual([]);
    expect(data[3]).toEqual(await getTask(task.id));
    expect(data[3].sessionIds).toEqual([]);
  });
});

describe('no events', () => {
  it('for a failed request, whatever the failure', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const session = await makeSession(project.id, [task]);
    client.clear();
    const failures: [string, string, unknown][] = [
      ['POST', '/api/projects', {}],
      ['POST', '/api/projects', '{bad json'],
      ['PUT', '/api/projects/proj_1_nope', { name: 'x' }],
      ['DELETE', `/api/projects/${project.id}`, undefined],
      ['POST', '/api/tasks', { projectId: project.id, title: 'x', parentId: 'task_1_nope' }],
      ['PATCH', `/api/tasks/${task.id}`, { status: 'done' }],
      ['PATCH', `/api/tasks/${task.id}`, { sessionIds: ['sess_1_nope'] }],
      ['DELETE', '/api/tasks/task_1_nope', undefined],
      ['POST', `/api/tasks/${task.id}/timeline`, { message: 'm', sessionId: 'sess_1_nope' }],
      ['POST', '/api/sessions', { projectId: project.id, taskIds: [task.id, 'task_1_nope'] }],
      ['POST', '/api/sessions', { projectId: project.id, taskIds: [task.id], id: session.id }],
      ['PATCH', `/api/sessions/${session.id}`, { taskIds: ['task_1_nope'] }],
      ['DELETE', '/api/sessions/sess_1_nope', undefined],
      ['POST', `/api/sessions/${session.id}/events`, {}],
      ['POST', `/api/sessions/${session.id}/timeline`, { message: 'm', type: 'Nope!' }],
      ['POST', `/api/sessions/${session.id}/tasks/task_1_nope`, undefined],
      ['DELETE', `/api/sessions/sess_1_nope/tasks/${task.id}`, undefined],
    ];
    for (const [method, path, body] of failures) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
    }
    await settle();
    expect(client.events()).toEqual([]);
    // The stream goes on with the next seq: nothing was broadcast and then lost.
    await expectEvents(() => call('PUT', `/api/projects/${project.id}`, { name: 'still here' }), ['project:updated']);
  });

  it('for reads', async () => {
    const project = await makeProject();
    client.clear();
    for (const path of [
      '/api/projects',
      `/api/projects/${project.id}`,
      '/api/tasks',
      '/api/sessions?active=true',
      '/health',
      '/ws-status',
    ]) {
      expect((await call('GET', path)).status).toBe(200);
    }
    await settle();
    expect(client.events()).toEqual([]);
  });
});

describe('the event stream', () => {
  it('sends the same events with the same seq to every client', async () => {
    const project = await makeProject();
    const task = await makeTask(project.id);
    const other = await openClient();
    const { data } = await expectEvents(
      () => call('POST', '/api/sessions', { projectId: project.id, taskIds: [task.id] }),
      ['session:created', 'task:session_added', 'task:updated'],
    );
    await other.waitFor(3);
    await settle();
    expect(other.events()).toEqual(client.events());
    expect(other.events().map((e) => e.data)).toEqual(data);
  });

  it('answers a ping with a pong to that client alone, outside the seq stream', async () => {
    const other = await openClient();
    client.clear();
    const before = Date.now();
    client.ws.send(JSON.stringify({ type: 'ping' }));
    await until(async () => client.messages.length > 0);
    await settle();
    expect(client.messages).toHaveLength(1);
    const [pong] = client.messages;
    expect(Object.keys(pong).sort()).toEqual(['timestamp', 'type']);
    expect(pong.type).toBe('pong');
    expect(Number.isInteger(pong.timestamp)).toBe(true);
    expect(pong.timestamp).toBeGreaterThanOrEqual(before);
    expect(other.messages).toEqual([]);
    // The next broadcast carries the next seq: the pong took none.
    await makeProject();
    await other.waitFor(1);
    expect(other.events()[0].seq).toBe(lastSeq);
  });

  it('ignores garbage, invalid JSON and binary frames from a client, without closing its socket', async () => {
    client.clear();
    const junk: (string | Buffer)[] = [
      'not json',
      '{"type":"ping"',
      '',
      'null',
      '42',
      '[]',
      '"ping"',
      '{"type":"pong"}',
      '{"type":"PING"}',
      '{"kind":"ping"}',
      JSON.stringify({ type: 'subscribe', data: { all: true } }),
      Buffer.from([0, 1, 2, 255]),
    ];
    for (const frame of junk) client.ws.send(frame, { binary: Buffer.isBuffer(frame) });
    await settle();
    expect(client.messages).toEqual([]);
    expect(client.ws.readyState).toBe(client.ws.OPEN);

    // Still served: it answers pings and receives broadcasts.
    client.ws.send(JSON.stringify({ type: 'ping' }));
    await until(async () => client.messages.length > 0);
    expect(client.messages.map((m) => m.type)).toEqual(['pong']);
    await makeProject();
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it.each(['/', '/anything', '/ws/deeper?x=1', '/api/projects'])('accepts the upgrade on %s and broadcasts to it', async (path) => {
    const other = await openClient(path);
    const project = await makeProject();
    const [event] = await other.waitFor(1);
    expect(event).toMatchObject({ type: 'project:created', event: 'project:created', data: project, seq: lastSeq });
    await settle();
    expect(other.messages).toEqual([event]); // no handshake message, nothing else
  });
});

/** A server of its own, so that the count covers only this test's clients. */
const quiet = await startTestServer();

describe('GET /ws-status (§3.1)', () => {
  const status = async () => (await quiet.call('GET', '/ws-status')).body;

  it('counts the connected clients, with their ready state', async () => {
    expect(await status()).toEqual({ connectedClients: 0, clients: [] });
    const first = await listen(`${quiet.url.replace(/^http/, 'ws')}/ws`);
    onTestFinished(() => first.ws.terminate());
    const second = await listen(`${quiet.url.replace(/^http/, 'ws')}/`);
    onTestFinished(() => second.ws.terminate());
    await until(async () => (await status()).connectedClients === 2);
    expect(await status()).toEqual({
      connectedClients: 2,
      clients: [
        { readyState: 1, readyStateText: 'OPEN' },
        { readyState: 1, readyStateText: 'OPEN' },
      ],
    });
    first.close();
    await until(async () => (await status()).connectedClients === 1);
    expect(await status()).toEqual({ connectedClients: 1, clients: [{ readyState: 1, readyStateText: 'OPEN' }] });
    second.ws.terminate();
    await until(async () => (await status()).connectedClients === 0);
    expect((await status()).clients).toEqual([]);
  });
});
