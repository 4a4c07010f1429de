import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectError, tick } from './assertions.js';
import { inProcess, startTestServer } from './helpers.js';

/**
 * The queue strategy (contract §2.6, §3.5, §8) over a real server on 127.0.0.1: every transition and refusal with its
 * exact body, the stored queue file after each change, and the queue:* / task:updated events on a WebSocket [OP-22].
 * Queues exist only for sessions spawned with strategy "queue", so each test spawns one (the bundled CLI writes the
 * manifest).
 */

const server = await startTestServer();
const ws = await server.listen();
const { call } = server;
const { dataDir } = server.config;

/** The events as `[type, data]` pairs, after checking each envelope (§4.2). */
const pairs = (events: any[]) =>
  events.map((e) => {
    expect(e).toEqual({
      type: e.type,
      event: e.type,
      data: expect.anything(),
      timestamp: expect.any(Number),
      seq: expect.any(Number),
      projectId: expect.any(String),
      actor: { kind: expect.any(String) },
    });
    return [e.type, e.data];
  });

const queueFile = (sessionId: string) => join(dataDir, 'queues', `${sessionId}.json`);

/** GET …/queue; and the stored file must be that same queue, pretty-printed (§5, §8). */
async function getQueue(sessionId: string) {
  const res = await call('GET', `/api/sessions/${sessionId}/queue`);
  expect(res.status).toBe(200);
  const text = readFileSync(queueFile(sessionId), 'utf8');
  expect(text.trimEnd()).toBe(JSON.stringify(res.body.queue, null, 2));
  return res.body as { queue: any; stats: any };
}

const getSession = async (id: string) => (await call('GET', `/api/sessions/${id}`)).body;
const getTask = async (id: string) => (await call('GET', `/api/tasks/${id}`)).body;
const stats = (counts: Partial<Record<'queued' | 'processing' | 'completed' | 'failed' | 'skipped', number>>) => {
  const all = { queued: 0, processing: 0, completed: 0, failed: 0, skipped: 0, ...counts };
  return { total: Object.values(all).reduce((a, b) => a + b, 0), ...all };
};

let projectId: string;
beforeAll(async () => {
  projectId = (await call('POST', '/api/projects', { name: 'Queue project', workingDir: '/tmp' })).body.id;
});

async function makeTask(title: string): Promise<string> {
  const res = await call('POST', '/api/tasks', { projectId, title });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** A session spawned with strategy "queue" over `count` fresh tasks; its spawn events are already drained. */
async function spawnQueue(count = 3) {
  const taskIds: string[] = [];
  for (let i = 1; i <= count; i++) taskIds.push(await makeTask(`Queued task ${i}`));
  const res = await call('POST', '/api/sessions/spawn', { projectId, taskIds, strategy: 'queue' });
  expect(res.status).toBe(201);
  await ws.drain();
  return { sessionId: res.body.sessionId as string, taskIds };
}

/** A session created through POST /api/sessions: no queue, whatever the strategy. */
async function makeSession(strategy: string, taskIds: string[] = []) {
  const res = await call('POST', '/api/sessions', { projectId, taskIds, strategy });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const op = (sessionId: string, action: string, body?: unknown) => call('POST', `/api/sessions/${sessionId}/queue/${action}`, body);

beforeEach(async () => {
  await ws.drain();
});

describe('the queue a spawn creates', () => {
  it('holds every spawned task as queued, in order, with nothing processing; the file matches', async () => {
    const before = Date.now();
    const { sessionId, taskIds } = await spawnQueue();
    const { queue, stats: counts } = await getQueue(sessionId);
    expect(queue).toEqual({
      sessionId,
      strategy: 'queue',
      items: taskIds.map((taskId) => ({ taskId, status: 'queued', addedAt: queue.createdAt })),
      currentIndex: -1,
      createdAt: expect.any(Number),
      updatedAt: queue.createdAt,
    });
    expect(queue.createdAt).toBeGreaterThanOrEqual(before);
    expect(counts).toEqual(stats({ queued: 3 }));
  });

  it('GET …/queue/items answers the items and the stats', async () => {
    const { sessionId } = await spawnQueue();
    const { queue } = await getQueue(sessionId);
    const res = await call('GET', `/api/sessions/${sessionId}/queue/items`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: queue.items, stats: stats({ queued: 3 }) });
  });

  it('GET …/queue/top peeks at the first queued item without changing anything', async () => {
    const { sessionId } = await spawnQueue();
    const { queue } = await getQueue(sessionId);
    const res = await call('GET', `/api/sessions/${sessionId}/queue/top`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hasMore: true, item: queue.items[0] });
    expect((await call('GET', `/api/sessions/${sessionId}/queue/top`)).body).toEqual(res.body);
    expect((await getQueue(sessionId)).queue).toEqual(queue);
    expect(await ws.drain()).toEqual([]);
  });
});

describe('common checks of every queue endpoint, in order (§3.5)', () => {
  const endpoints: [string, string][] = [
    ['GET', 'queue'],
    ['GET', 'queue/items'],
    ['GET', 'queue/top'],
    ['POST', 'queue/start'],
    ['POST', 'queue/complete'],
    ['POST', 'queue/fail'],
    ['POST', 'queue/skip'],
    ['POST', 'queue/push'],
  ];
  let simple: string;
  let tree: string;
  let queueWithoutQueue: string;
  let taskId: string;
  beforeAll(async () => {
    taskId = await makeTask('Linked');
    simple = await makeSession('simple', [taskId]);
    tree = await makeSession('tree');
    queueWithoutQueue = await makeSession('queue', [taskId]);
  });

  it.each(endpoints)('%s …/%s answers 404 NOT_FOUND for an unknown session', async (method, path) => {
    expectError(await call(method, `/api/sessions/sess_1_nope/${path}`, method === 'POST' ? { taskId } : undefined), 404, 'NOT_FOUND');
  });

  it.each(endpoints)('%s …/%s answers 404 NOT_FOUND for a session ID that is not a valid ID', async (method, path) => {
    expectError(await call(method, `/api/sessions/..%2Fqueues/${path}`), 404, 'NOT_FOUND');
  });

  it.each(endpoints)('%s …/%s answers 400 for a session with strategy simple (or tree)', async (method, path) => {
    for (const id of [simple, tree]) {
      const res = await call(method, `/api/sessions/${id}/${path}`, method === 'POST' ? { taskId } : undefined);
      expectError(res, 400, 'VALIDATION_ERROR', `Session ${id} does not use queue strategy`);
    }
  });

  it.each(endpoints)('%s …/%s answers 404 "Queue not found" for a queue session created by POST /api/sessions', async (method, path) => {
    const res = await call(method, `/api/sessions/${queueWithoutQueue}/${path}`, method === 'POST' ? { taskId } : undefined);
    expectError(res, 404, 'NOT_FOUND', 'Queue not found');
    expect(existsSync(queueFile(queueWithoutQueue))).toBe(false);
  });

  it('push checks the session before its body: no taskId, or a body that is not JSON, still gets the session errors', async () => {
    expectError(await op('sess_1_nope', 'push', {}), 404, 'NOT_FOUND');
    expectError(await op(simple, 'push', {}), 400, 'VALIDATION_ERROR', `Session ${simple} does not use queue strategy`);
    expectError(await op(queueWithoutQueue, 'push'), 404, 'NOT_FOUND', 'Queue not found');
    expectError(await op(queueWithoutQueue, 'push', '{not json'), 404, 'NOT_FOUND', 'Queue not found');
  });

  it('a refused operation emits nothing and creates no queue', async () => {
    for (const [method, path] of endpoints)
      await call(method, `/api/sessions/${queueWithoutQueue}/${path}`, method === 'POST' ? { taskId } : undefined);
    expect(await ws.drain()).toEqual([]);
    expect(existsSync(queueFile(queueWithoutQueue))).toBe(false);
    expect(existsSync(queueFile(simple))).toBe(false);
  });
});

describe('POST …/queue/start', () => {
  it('makes the first queued item processing, sets startedAt and currentIndex, and the task works', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    const before = await getQueue(sessionId);
    const task = await getTask(taskIds[0]!);
    await tick();

    const res = await op(sessionId, 'start');
    expect(res.status).toBe(200);
    const item = { ...before.queue.items[0], status: 'processing', startedAt: expect.any(Number) };
    expect(res.body).toEqual({ success: true, item, message: `Started processing task ${taskIds[0]}` });
    expect(res.body.item.startedAt).toBeGreaterThan(before.queue.updatedAt);

    const after = await getQueue(sessionId);
    expect(after.queue).toEqual({
      ...before.queue,
      items: [res.body.item, ...before.queue.items.slice(1)],
      currentIndex: 0,
      updatedAt: res.body.item.startedAt,
    });
    expect(after.stats).toEqual(stats({ processing: 1, queued: 2 }));

    const updatedTask = await getTask(taskIds[0]!);
    expect(updatedTask).toEqual({ ...task, sessionStatus: 'working', updatedAt: expect.any(Number) });
    expect(updatedTask.updatedAt).toBeGreaterThan(task.updatedAt);
    expect((await getTask(taskIds[1]!)).sessionStatus).toBeUndefined();

    expect(pairs(await ws.drain())).toEqual([
      ['queue:item_started', { sessionId, taskId: taskIds[0], item: res.body.item }],
      ['queue:updated', { sessionId, queue: after.queue }],
      ['task:updated', updatedTask],
      ['session:updated', await getSession(sessionId)],
    ]);
    // Each queue step is on the session's timeline (§18.4).
    expect((await getSession(sessionId)).timeline.at(-1)).toEqual({
      id: expect.any(String),
      type: 'task_started',
      timestamp: res.body.item.startedAt,
      message: `Started processing task ${taskIds[0]}`,
      taskId: taskIds[0],
      actor: { kind: 'admin' },
    });
  });

  it('refuses while an item is processing, changing nothing', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    await op(sessionId, 'start');
    const before = await getQueue(sessionId);
    await ws.drain();
    expectError(await op(sessionId, 'start'), 400, 'VALIDATION_ERROR', `Already processing task ${taskIds[0]}. Complete or fail it first.`);
    expect(await getQueue(sessionId)).toEqual(before);
    expect(await ws.drain()).toEqual([]);
  });

  it('answers the empty answer when nothing is queued, even while an item is processing', async () => {
    const { sessionId, taskIds } = await spawnQueue(1);
    await op(sessionId, 'start');
    const before = await getQueue(sessionId);
    await ws.drain();
    const res = await op(sessionId, 'start');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, item: null, empty: true, message: 'Queue is empty — no items to process' });
    expect(await getQueue(sessionId)).toEqual(before);
    expect(before.queue.items[0]).toMatchObject({ taskId: taskIds[0], status: 'processing' });
    expect(await ws.drain()).toEqual([]);
  });

  it('points currentIndex at a later item once the earlier ones are done', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    await op(sessionId, 'skip');
    await op(sessionId, 'skip');
    const res = await op(sessionId, 'start');
    expect(res.body.item).toMatchObject({ taskId: taskIds[2], status: 'processing' });
    expect((await getQueue(sessionId)).queue.currentIndex).toBe(2);
  });
});

describe('POST …/queue/complete', () => {
  it('completes the processing item, clears currentIndex, and names the next one', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    const started = (await op(sessionId, 'start')).body.item;
    const before = await getQueue(sessionId);
    await ws.drain();
    await tick();

    const res = await op(sessionId, 'complete');
    expect(res.status).toBe(200);
    const completedItem = { ...started, status: 'completed', completedAt: expect.any(Number) };
    expect(res.body).toEqual({
      success: true,
      completedItem,
      nextItem: before.queue.items[1],
      hasMore: true,
      message: `Completed ${taskIds[0]}. Next: ${taskIds[1]}`,
    });
    expect(res.body.completedItem.completedAt).toBeGreaterThan(started.startedAt);

    const after = await getQueue(sessionId);
    expect(after.queue).toEqual({
      ...before.queue,
      items: [res.body.completedItem, ...before.queue.items.slice(1)],
      currentIndex: -1,
      updatedAt: res.body.completedItem.completedAt,
    });
    expect(after.stats).toEqual(stats({ completed: 1, queued: 2 }));
    const task = await getTask(taskIds[0]!);
    expect(task.sessionStatus).toBe('completed');
    expect(task.status).toBe('todo');

    expect(pairs(await ws.drain())).toEqual([
      ['queue:item_completed', { sessionId, taskId: taskIds[0], item: res.body.completedItem }],
      ['queue:updated', { sessionId, queue: after.queue }],
      ['task:updated', task],
      ['session:updated', await getSession(sessionId)],
    ]);
    expect((await getSession(sessionId)).timeline.at(-1)).toMatchObject({
      type: 'task_completed',
      message: `Completed task ${taskIds[0]}`,
      taskId: taskIds[0],
    });
  });

  it('says "Queue is empty." when nothing is left', async () => {
    const { sessionId, taskIds } = await spawnQueue(1);
    await op(sessionId, 'start');
    const res = await op(sessionId, 'complete');
    expect(res.body).toEqual({
      success: true,
      completedItem: expect.objectContaining({ taskId: taskIds[0], status: 'completed' }),
      nextItem: null,
      hasMore: false,
      message: `Completed ${taskIds[0]}. Queue is empty.`,
    });
  });

  it('refuses without a processing item, changing nothing', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    const before = await getQueue(sessionId);
    expectError(await op(sessionId, 'complete'), 400, 'VALIDATION_ERROR', 'No item currently being processed. Run "start" first.');
    await op(sessionId, 'start');
    await op(sessionId, 'complete');
    const done = await getQueue(sessionId);
    await ws.drain();
    expectError(await op(sessionId, 'complete'), 400, 'VALIDATION_ERROR', 'No item currently being processed. Run "start" first.');
    expect(await getQueue(sessionId)).toEqual(done);
    expect(before.queue.items[0].taskId).toBe(taskIds[0]);
    expect(await ws.drain()).toEqual([]);
  });
});

describe('POST …/queue/fail', () => {
  it('fails the processing item with the reason, stores failReason, and the task fails', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    const started = (await op(sessionId, 'start')).body.item;
    const before = await getQueue(sessionId);
    await ws.drain();

    const res = await op(sessionId, 'fail', { reason: 'tests do not compile' });
    expect(res.status).toBe(200);
    const failedItem = { ...started, status: 'failed', completedAt: expect.any(Number), failReason: 'tests do not compile' };
    expect(res.body).toEqual({
      success: true,
      failedItem,
      nextItem: before.queue.items[1],
      hasMore: true,
      message: `Failed ${taskIds[0]}. Next: ${taskIds[1]}`,
    });
    const after = await getQueue(sessionId);
    expect(after.queue.items[0]).toEqual(res.body.failedItem);
    expect(after.queue.currentIndex).toBe(-1);
    expect(after.stats).toEqual(stats({ failed: 1, queued: 2 }));
    const task = await getTask(taskIds[0]!);
    expect(task.sessionStatus).toBe('failed');

    expect(pairs(await ws.drain())).toEqual([
      ['queue:item_failed', { sessionId, taskId: taskIds[0], item: res.body.failedItem, reason: 'tests do not compile' }],
      ['queue:updated', { sessionId, queue: after.queue }],
      ['task:updated', task],
      ['session:updated', await getSession(sessionId)],
    ]);
    expect((await getSession(sessionId)).timeline.at(-1)).toMatchObject({
      type: 'task_failed',
      message: `Failed task ${taskIds[0]}: tests do not compile`,
      taskId: taskIds[0],
    });
  });

  it.each([
    ['no body', undefined],
    ['an empty body', {}],
  ])('takes the reason as optional (%s): no failReason, no reason in the event', async (_what, body) => {
    const { sessionId, taskIds } = await spawnQueue(1);
    await op(sessionId, 'start');
    await ws.drain();
    const res = await op(sessionId, 'fail', body);
    expect(res.status).toBe(200);
    expect(res.body.failedItem).not.toHaveProperty('failReason');
    expect(res.body).toMatchObject({ nextItem: null, hasMore: false, message: `Failed ${taskIds[0]}. Queue is empty.` });
    expect((await getQueue(sessionId)).queue.items[0]).toEqual(res.body.failedItem);
    const [failed] = await ws.drain();
    expect(failed.type).toBe('queue:item_failed');
    expect(failed.data).toEqual({ sessionId, taskId: taskIds[0], item: res.body.failedItem });
  });

  it('refuses without a processing item', async () => {
    const { sessionId } = await spawnQueue();
    expectError(
      await op(sessionId, 'fail', { reason: 'x' }),
      400,
      'VALIDATION_ERROR',
      'No item currently being processed. Run "start" first.',
    );
    expect(await ws.drain()).toEqual([]);
  });

  it('refuses a reason that is not a string with 400 VALIDATION_ERROR, changing nothing', async () => {
    const { sessionId } = await spawnQueue();
    await op(sessionId, 'start');
    const before = await getQueue(sessionId);
    expectError(await op(sessionId, 'fail', { reason: 42 }), 400, 'VALIDATION_ERROR');
    expect(await getQueue(sessionId)).toEqual(before);
  });
});

describe('POST …/queue/skip', () => {
  it('skips the processing item (not the first queued one) and reports the task skipped (§18.4)', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    const started = (await op(sessionId, 'start')).body.item;
    const taskBefore = await getTask(taskIds[0]!);
    const before = await getQueue(sessionId);
    await ws.drain();

    const res = await op(sessionId, 'skip');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      skippedItem: { ...started, status: 'skipped', completedAt: expect.any(Number) },
      nextItem: before.queue.items[1],
      hasMore: true,
      message: `Skipped ${taskIds[0]}. Next: ${taskIds[1]}`,
    });
    const after = await getQueue(sessionId);
    expect(after.queue.items).toEqual([res.body.skippedItem, ...before.queue.items.slice(1)]);
    expect(after.queue.currentIndex).toBe(-1);
    expect(after.stats).toEqual(stats({ skipped: 1, queued: 2 }));
    const skipped = await getTask(taskIds[0]!);
    expect(skipped).toEqual({ ...taskBefore, sessionStatus: 'skipped', updatedAt: expect.any(Number) });
    expect(taskBefore.sessionStatus).toBe('working');

    expect(pairs(await ws.drain())).toEqual([
      ['queue:item_skipped', { sessionId, taskId: taskIds[0], item: res.body.skippedItem }],
      ['queue:updated', { sessionId, queue: after.queue }],
      ['task:updated', skipped],
      ['session:updated', await getSession(sessionId)],
    ]);
    expect((await getSession(sessionId)).timeline.at(-1)).toMatchObject({
      type: 'task_skipped',
      message: `Skipped task ${taskIds[0]}`,
      taskId: taskIds[0],
    });
  });

  it('skips the first queued item when nothing is processing', async () => {
    const { sessionId, taskIds } = await spawnQueue();
    await op(sessionId, 'skip');
    const task = await getTask(taskIds[1]!);
    await ws.drain();
    const res = await op(sessionId, 'skip');
    expect(res.body).toEqual({
      success: true,
      skippedItem: { taskId: taskIds[1], status: 'skipped', addedAt: expect.any(Number), completedAt: expect.any(Number) },
      nextItem: expect.objectContaining({ taskId: taskIds[2], status: 'queued' }),
      hasMore: true,
      message: `Skipped ${taskIds[1]}. Next: ${taskIds[2]}`,
    });
    const after = await getQueue(sessionId);
    expect(after.queue.items.map((i: any) => i.status)).toEqual(['skipped', 'skipped', 'queued']);
    expect(after.queue.currentIndex).toBe(-1);
    expect(await getTask(taskIds[1]!)).toEqual({ ...task, sessionStatus: 'skipped', updatedAt: expect.any(Number) });
    expect(pairs(await ws.drain()).map(([type]) => type)).toEqual([
      'queue:item_skipped',
      'queue:updated',
      'task:updated',
      'session:updated',
    ]);
  });

  it('says "Queue is empty." after the last one, then refuses with "No items left in queue to skip"', async () => {
    const { sessionId, taskIds } = await spawnQueue(1);
    expect((await op(sessionId, 'skip')).body).toMatchObject({
      nextItem: null,
      hasMore: false,
      message: `Skipped ${taskIds[0]}. Queue is empty.`,
    });
    const done = await getQueue(sessionId);
    await ws.drain();
    expectError(await op(sessionId, 'skip'), 400, 'VALIDATION_ERROR', 'No items left in queue to skip');
    expect(await getQueue(sessionId)).toEqual(done);
    expect(await ws.drain()).toEqual([]);
  });
});

describe('POST …/queue/push', () => {
  it('appends a queued item, without linking the task to the session', async () => {
    const { sessionId, taskIds } = await spawnQueue(2);
    const extra = await makeTask('Pushed later');
    const taskBefore = await getTask(extra);
    const before = await getQueue(sessionId);
    await ws.drain();
    await tick();

    const res = await op(sessionId, 'push', { taskId: extra });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, item: { taskId: extra, status: 'queued', addedAt: expect.any(Number) } });
    expect(res.body.item.addedAt).toBeGreaterThan(before.queue.updatedAt);

    const after = await getQueue(sessionId);
    expect(after.queue).toEqual({ ...before.queue, items: [...before.queue.items, res.body.item], updatedAt: res.body.item.addedAt });
    expect(after.stats).toEqual(stats({ queued: 3 }));
    expect(await getTask(extra)).toEqual(taskBefore);
    expect((await call('GET', `/api/sessions/${sessionId}`)).body.taskIds).toEqual(taskIds);

    expect(pairs(await ws.drain())).toEqual([
      ['queue:item_pushed', { sessionId, taskId: extra, item: res.body.item }],
      ['queue:updated', { sessionId, queue: after.queue }],
    ]);
  });

  it('keeps the processing item and currentIndex as they are', async () => {
    const { sessionId } = await spawnQueue(2);
    await op(sessionId, 'start');
    await op(sessionId, 'push', { taskId: await makeTask('Pushed') });
    const { queue } = await getQueue(sessionId);
    expect(queue.currentIndex).toBe(0);
    expect(queue.items.map((i: any) => i.status)).toEqual(['processing', 'queued', 'queued']);
  });

  it.each([
    ['no body', undefined],
    ['no taskId', {}],
    ['a blank taskId', { taskId: '  ' }],
    ['a null taskId', { taskId: null }],
  ])('refuses %s with 400 "taskId is required"', async (_what, body) => {
    const { sessionId } = await spawnQueue(1);
    const before = await getQueue(sessionId);
    expectError(await op(sessionId, 'push', body), 400, 'VALIDATION_ERROR', 'taskId is required');
    expect(await getQueue(sessionId)).toEqual(before);
  });

  it('refuses an unknown task with 404 NOT_FOUND', async () => {
    const { sessionId } = await spawnQueue(1);
    const before = await getQueue(sessionId);
    expectError(await op(sessionId, 'push', { taskId: 'task_1_nope' }), 404, 'NOT_FOUND');
    expect(await getQueue(sessionId)).toEqual(before);
    expect(await ws.drain()).toEqual([]);
  });

  it('refuses a task already in the queue, whatever its item status', async () => {
    const { sessionId, taskIds } = await spawnQueue(2);
    await op(sessionId, 'start');
    await op(sessionId, 'complete');
    const before = await getQueue(sessionId);
    await ws.drain();
    for (const taskId of taskIds) {
      expectError(await op(sessionId, 'push', { taskId }), 400, 'VALIDATION_ERROR', `Task ${taskId} already in queue`);
    }
    expect(await getQueue(sessionId)).toEqual(before);
    expect(await ws.drain()).toEqual([]);
  });

  it('revives an emptied queue: the pushed task is next, and starting it makes it work', async () => {
    const { sessionId } = await spawnQueue(1);
    await op(sessionId, 'skip');
    expect((await call('GET', `/api/sessions/${sessionId}/queue/top`)).body.hasMore).toBe(false);
    const extra = await makeTask('Revival');
    const pushed = (await op(sessionId, 'push', { taskId: extra })).body.item;
    expect((await call('GET', `/api/sessions/${sessionId}/queue/top`)).body).toEqual({ hasMore: true, item: pushed });
    const started = await op(sessionId, 'start');
    expect(started.body).toMatchObject({ item: { taskId: extra, status: 'processing' }, message: `Started processing task ${extra}` });
    expect((await getQueue(sessionId)).queue.currentIndex).toBe(1);
    expect((await getTask(extra)).sessionStatus).toBe('working');
  });
});

describe('stats', () => {
  it('counts the items by status', async () => {
    const { sessionId } = await spawnQueue(3);
    await op(sessionId, 'push', { taskId: await makeTask('Fourth') });
    await op(sessionId, 'push', { taskId: await makeTask('Fifth') });
    await op(sessionId, 'start');
    await op(sessionId, 'complete');
    await op(sessionId, 'start');
    await op(sessionId, 'fail');
    await op(sessionId, 'skip');
    await op(sessionId, 'start');
    const expected = stats({ completed: 1, failed: 1, skipped: 1, processing: 1, queued: 1 });
    expect(expected.total).toBe(5);
    expect((await getQueue(sessionId)).stats).toEqual(expected);
    expect((await call('GET', `/api/sessions/${sessionId}/queue/items`)).body.stats).toEqual(expected);
    expect((await getQueue(sessionId)).queue.items.map((i: any) => i.status)).toEqual([
      'completed',
      'failed',
      'skipped',
      'processing',
      'queued',
    ]);
  });
});

describe('a full run through a 3-task queue', () => {
  it('goes start/complete, start/fail, start/complete to the empty state, with the file and events at every step', async () => {
    const { sessionId, taskIds } = await spawnQueue(3);
    const [t1, t2, t3] = taskIds as [string, string, string];
    const top = () => call('GET', `/api/sessions/${sessionId}/queue/top`).then((r) => r.body);

    /** Runs one operation, then checks that the file matches GET and that exactly `types` were broadcast. */
    async function step(action: string, body: unknown, types: string[]) {
      const res = await op(sessionId, action, body);
      expect(res.status).toBe(200);
      const { queue } = await getQueue(sessionId);
      const events = pairs(await ws.drain());
      expect(events.map(([type]) => type)).toEqual(types);
      expect(events[1]).toEqual(['queue:updated', { sessionId, queue }]);
      return res.body;
    }
    const finishTypes = (kind: string) => [`queue:item_${kind}`, 'queue:updated', 'task:updated', 'session:updated'];

    expect((await top()).item.taskId).toBe(t1);
    expect((await step('start', undefined, finishTypes('started'))).message).toBe(`Started processing task ${t1}`);
    expect(await step('complete', undefined, finishTypes('completed'))).toMatchObject({
      nextItem: { taskId: t2 },
      hasMore: true,
      message: `Completed ${t1}. Next: ${t2}`,
    });
    expect((await top()).item.taskId).toBe(t2);
    await step('start', undefined, finishTypes('started'));
    expect(await step('fail', { reason: 'flaky' }, finishTypes('failed'))).toMatchObject({
      failedItem: { taskId: t2, failReason: 'flaky' },
      nextItem: { taskId: t3 },
      hasMore: true,
      message: `Failed ${t2}. Next: ${t3}`,
    });
    await step('start', undefined, finishTypes('started'));
    expect(await step('complete', undefined, finishTypes('completed'))).toMatchObject({
      completedItem: { taskId: t3 },
      nextItem: null,
      hasMore: false,
      message: `Completed ${t3}. Queue is empty.`,
    });

    const final = await getQueue(sessionId);
    expect(final.stats).toEqual(stats({ completed: 2, failed: 1 }));
    expect(final.queue.currentIndex).toBe(-1);
    expect(final.queue.items.map((i: any) => [i.taskId, i.status])).toEqual([
      [t1, 'completed'],
      [t2, 'failed'],
      [t3, 'completed'],
    ]);
    for (const item of final.queue.items) expect(item.completedAt).toBeGreaterThanOrEqual(item.startedAt);
    expect(await Promise.all(taskIds.map(async (id) => (await getTask(id)).sessionStatus))).toEqual(['completed', 'failed', 'completed']);

    expect(await top()).toEqual({ hasMore: false, item: null, message: 'Queue is empty - all tasks processed' });
    expect((await op(sessionId, 'start')).body).toEqual({
      success: true,
      item: null,
      empty: true,
      message: 'Queue is empty — no items to process',
    });
    expectError(await op(sessionId, 'complete'), 400, 'VALIDATION_ERROR', 'No item currently being processed. Run "start" first.');
    expectError(await op(sessionId, 'fail'), 400, 'VALIDATION_ERROR', 'No item currently being processed. Run "start" first.');
    expectError(await op(sessionId, 'skip'), 400, 'VALIDATION_ERROR', 'No items left in queue to skip');
    expect(await getQueue(sessionId)).toEqual(final);
    expect(await ws.drain()).toEqual([]);

    // What is on disk is what a restarted server serves.
    await server.close();
    const restarted = await inProcess({ DATA_DIR: dataDir });
    expect((await restarted.call('GET', `/api/sessions/${sessionId}/queue`)).body).toEqual(final);
  });
});
