import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../lib/http/app.js';
import { createLogger } from '../lib/log.js';
import { createServices, type Services } from '../lib/services.js';
import { expectError } from './assertions.js';
import { appClient, CLI_BIN, onDatabase, runCli, startServerProcess, startTestServer, tempDir, testConfig, testEnv } from './helpers.js';

/**
 * Messages between sessions (contract §16) through the app in-process, with an injected clock: the rules of
 * sending in their order, delivery, acknowledgement, expiry, failure when the receiver ends, retention, the files.
 */

const stops: Services[] = [];
afterAll(async () => {
  for (const services of stops) for (const stop of services.onClose) await stop();
});

const T0 = 1_800_000_000_000;

async function setup(env: Record<string, string> = {}, dataDir?: string) {
  const clock = { now: T0 };
  const config = testConfig(env);
  if (dataDir) config.dataDir = dataDir;
  const services = await createServices(config, createLogger('error'), () => clock.now);
  stops.push(services);
  const { app } = await createApp(services);
  const { call, ok } = appClient(app);
  const project = await ok('POST', '/api/projects', { name: 'P' });
  const other = await ok('POST', '/api/projects', { name: 'Q' });
  const session = (id: string, role?: 'worker' | 'orchestrator', projectId = project.id) =>
    ok('POST', '/api/sessions', { id, projectId, taskIds: [], ...(role && { metadata: { role } }) });
  /** Waits for follow-up mutations queued so far (a receiver's end fails its messages in a follow-up). */
  const fence = () => services.db.mutate(() => undefined);
  const as = (id: string) => ({ 'x-session-id': id });
  const send = (from: string | null, to: string, body: unknown) => call('POST', `/api/sessions/${to}/messages`, body, from ? as(from) : {});
  const messageFiles = () => {
    const dir = join(config.dataDir, 'messages', 'by-receiver');
    return existsSync(dir)
      ? readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name))
      : [];
  };
  /** Stops this server (releasing its data directory for the next one). */
  const close = async () => {
    stops.splice(stops.indexOf(services), 1);
    for (const stop of services.onClose) await stop();
  };
  return { clock, config, services, call, ok, project, other, session, fence, as, send, messageFiles, close };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Two workers and an orchestrator of project P, a worker of project Q. */
async function team(s: Setup) {
  await s.session('w1', 'worker');
  await s.session('w2');
  await s.session('boss', 'orchestrator');
  await s.session('q1', 'worker', s.other.id);
}

describe('sending (§16.1, §16.2)', () => {
  it('stores a pending message with its defaults, one file per message under the receiver, before the 201', async () => {
    const s = await setup();
    await team(s);
    const res = await s.send('w1', 'w2', {
      message: 'Hi\u0000 there\u0007\tnow\r\n\u001b[31mred\u009b',
      metadata: { taskId: 'task_1', type: 'request', unknownKey: 1, __proto__: { polluted: true } },
      ignored: 'field',
    });
    expect(res.status).toBe(201);
    const m = res.body;
    expect(m).toEqual({
      id: expect.stringMatching(/^msg_1800000000000_[0-9a-z]{1,9}$/),
      from: 'w1',
      to: 'w2',
      projectId: s.project.id,
      message: 'Hi there\tnow\r\n[31mred',
      status: 'pending',
      createdAt: T0,
      deliveredAt: null,
      readAt: null,
      expiresAt: null,
      metadata: { taskId: 'task_1', type: 'request', priority: 'medium', requiresAck: false },
    });
    const file = join(s.config.dataDir, 'messages', 'by-receiver', 'w2', `${m.id}.json`);
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(m, null, 2)}\n`);
    expect(s.messageFiles()).toEqual([file]);
    expect((await s.call('GET', `/api/messages/${m.id}`)).body).toEqual(m);
  });

  it('a request with no sender identity is from "user", and may message anyone without a rate limit', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '1' });
    await team(s);
    for (let i = 0; i < 3; i++) {
      const res = await s.send(null, 'q1', {
        message: `answer ${i}`,
        expiresInMs: 5000,
        metadata: { priority: 'high', requiresAck: true },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        from: 'user',
        to: 'q1',
        projectId: s.other.id,
        expiresAt: T0 + 5000,
        metadata: { priority: 'high', requiresAck: true },
      });
    }
  });

  it('rule 1: an unknown receiver is 404 SESSION_NOT_FOUND, before the body is looked at', async () => {
    const s = await setup();
    await team(s);
    for (const body of [{ message: 'hi' }, { message: 42 }, {}]) {
      const res = await s.send('w1', 'nobody', body);
      expectError(res, 404, 'SESSION_NOT_FOUND', 'Session not found');
      expect(res.body.details).toEqual({ sessionId: 'nobody' });
    }
    expect(s.messageFiles()).toEqual([]);
  });

  it('rule 2: the body, with its exact errors; nothing is stored', async () => {
    const s = await setup();
    await team(s);
    const cases: [unknown, string, string][] = [
      [{}, 'message is required', 'message'],
      [{ message: null }, 'message is required', 'message'],
      [{ message: 42 }, 'message must be a string', 'message'],
      [{ message: '   \n\t ' }, 'message is required', 'message'],
      [{ message: '\u0000\u0001\u0007\u001b\u007f\u0085' }, 'message is required', 'message'],
      [{ message: 'x'.repeat(10_001) }, 'message must be at most 10000 characters', 'message'],
      [{ message: 'hi', metadata: [] }, 'metadata must be an object', 'metadata'],
      [{ message: 'hi', metadata: 'high' }, 'metadata must be an object', 'metadata'],
      [{ message: 'hi', metadata: { priority: 'urgent' } }, 'metadata.priority must be one of: low, medium, high', 'metadata.priority'],
      [
        { message: 'hi', metadata: { type: 'question' } },
        'metadata.type must be one of: request, response, notification, command',
        'metadata.type',
      ],
      [{ message: 'hi', metadata: { requiresAck: 'yes' } }, 'metadata.requiresAck must be a boolean', 'metadata.requiresAck'],
      [{ message: 'hi', metadata: { taskId: '../etc' } }, 'metadata.taskId must match ^[A-Za-z0-9_-]{1,128}$', 'metadata.taskId'],
      [{ message: 'hi', metadata: { replyTo: 7 } }, 'metadata.replyTo must be a string', 'metadata.replyTo'],
      [{ message: 'hi', expiresInMs: 999 }, 'expiresInMs must be an integer from 1000 to 604800000', 'expiresInMs'],
      [{ message: 'hi', expiresInMs: 604_800_001 }, 'expiresInMs must be an integer from 1000 to 604800000', 'expiresInMs'],
      [{ message: 'hi', expiresInMs: 1500.5 }, 'expiresInMs must be an integer from 1000 to 604800000', 'expiresInMs'],
      [{ message: 'hi', expiresInMs: '5000' }, 'expiresInMs must be a number', 'expiresInMs'],
    ];
    for (const [body, message, path] of cases) {
      // Rule 2 comes before rule 3: an unknown sender does not change the answer.
      for (const from of ['w1', 'ghost']) {
        const res = await s.send(from, 'w2', body);
        expectError(res, 400, 'VALIDATION_ERROR', message);
        expect(res.body.details.issues[0]).toEqual({ path, message });
      }
    }
    // Exactly 10,000 characters is allowed; characters are code points, so 10,000 emoji pass too.
    expect((await s.send('w1', 'w2', { message: 'x'.repeat(10_000) })).status).toBe(201);
    expect((await s.send('w1', 'w2', { message: '😀'.repeat(10_000) })).status).toBe(201);
    expect(s.messageFiles()).toHaveLength(2);
  });

  it('rule 2: replyTo must name a known message of the same pair', async () => {
    const s = await setup();
    await team(s);
    const unknown = await s.send('w1', 'w2', { message: 'hi', metadata: { replyTo: 'msg_nope' } });
    expectError(unknown, 404, 'NOT_FOUND', 'Message not found');
    expect(unknown.body.details).toEqual({ messageId: 'msg_nope' });
    const question = (await s.send('w1', 'boss', { message: 'question', metadata: { type: 'request' } })).body;
    const reply = await s.send('boss', 'w1', { message: 'answer', metadata: { type: 'response', replyTo: question.id } });
    expect(reply.status).toBe(201);
    expect(reply.body.metadata.replyTo).toBe(question.id);
    const stranger = await s.send('w2', 'w1', { message: 'me too', metadata: { replyTo: question.id } });
    expectError(stranger, 400, 'VALIDATION_ERROR', 'metadata.replyTo must name a message between the same sender and receiver');
    expect(s.messageFiles()).toHaveLength(2);
  });

  it('rule 3: an unknown sender is 404 SESSION_NOT_FOUND with its ID; a session cannot message itself', async () => {
    const s = await setup();
    await team(s);
    const ghost = await s.send('ghost', 'w2', { message: 'boo' });
    expectError(ghost, 404, 'SESSION_NOT_FOUND', 'Session not found');
    expect(ghost.body.details).toEqual({ sessionId: 'ghost' });
    const self = await s.send('w1', 'w1', { message: 'note to self' });
    expectError(self, 400, 'VALIDATION_ERROR', 'A session cannot send a message to itself');
    // An X-Session-ID that is not an ID at all is refused before anything else.
    for (const bad of ['../../etc', 'a b', 'x'.repeat(129), 'sess;rm']) {
      expectError(await s.send(bad, 'w2', { message: 'hi' }), 400, 'VALIDATION_ERROR', 'X-Session-ID is not a valid ID');
    }
    expect(s.messageFiles()).toEqual([]);
  });

  it('rule 4: a sender or receiver that has ended is 400 SESSION_NOT_ACTIVE', async () => {
    const s = await setup();
    await team(s);
    await s.session('done', 'worker');
    await s.ok('PATCH', '/api/sessions/done', { status: 'completed' });
    for (const [from, to] of [
      ['done', 'w1'],
      ['w1', 'done'],
      [null, 'done'],
    ] as const) {
      const res = await s.send(from, to, { message: 'hi' });
      expectError(res, 400, 'SESSION_NOT_ACTIVE', 'Session done has ended (completed)');
      expect(res.body.details).toEqual({ sessionId: 'done', status: 'completed' });
    }
    for (const status of ['failed', 'stopped']) {
      await s.ok('PATCH', '/api/sessions/done', { status });
      expectError(await s.send('w1', 'done', { message: 'hi' }), 400, 'SESSION_NOT_ACTIVE', `Session done has ended (${status})`);
    }
    expect(s.messageFiles()).toEqual([]);
  });

  it('rule 5: roles decide who may message whom', async () => {
    const s = await setup();
    await team(s);
    await s.session('qboss', 'orchestrator', s.other.id);
    const allowed = [
      ['w1', 'w2'],
      ['w1', 'boss'],
      ['w1', 'qboss'],
      ['boss', 'q1'],
      ['qboss', 'w1'],
      ['boss', 'qboss'],
    ];
    for (const [from, to] of allowed) expect((await s.send(from!, to!, { message: 'hi' })).status, `${from} → ${to}`).toBe(201);
    for (const [from, to] of [
      ['w1', 'q1'],
      ['q1', 'w2'],
    ]) {
      const res = await s.send(from!, to!, { message: 'hi' });
      expectError(res, 403, 'FORBIDDEN', 'A worker may message only an orchestrator or a worker of its own project');
      expect(res.body.details).toEqual({ from, to });
    }
    expect(s.messageFiles()).toHaveLength(allowed.length);
  });

  it('rule 6: MAESTRO_MESSAGE_RATE per rolling minute, 429 with Retry-After and retryAfterMs; refusals do not count', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '3' });
    await team(s);
    for (let i = 0; i < 3; i++) {
      expect((await s.send('w1', 'w2', { message: `m${i}` })).status).toBe(201);
      s.clock.now += 10_000;
    }
    const refused = await s.send('w1', 'w2', { message: 'one too many' });
    expectError(refused, 429, 'RATE_LIMITED', 'Session w1 may send at most 3 messages per minute');
    expect(refused.body.details).toEqual({ sessionId: 'w1', limit: 3, retryAfterMs: 30_000 });
    expect(refused.headers.get('retry-after')).toBe('30');
    s.clock.now += 29_500;
    const again = await s.send('w1', 'w2', { message: 'still too many' });
    expect(again.body.details.retryAfterMs).toBe(500);
    expect(again.headers.get('retry-after')).toBe('1');
    // Another session has its own budget; rules before the limit still win over it.
    expect((await s.send('w2', 'w1', { message: 'mine' })).status).toBe(201);
    expectError(await s.send('w1', 'q1', { message: 'x' }), 403, 'FORBIDDEN');
    s.clock.now += 500;
    expect((await s.send('w1', 'w2', { message: 'now it fits' })).status).toBe(201);
    expect(s.messageFiles()).toHaveLength(5);
  });

  it('a send whose flush failed (500) does not count against the rate (issue 21 item 16)', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '2' });
    await team(s);
    const engine = s.services.db.engine;
    const commit = engine.commit.bind(engine);
    engine.commit = () => {
      engine.commit = commit;
      return Promise.reject(new Error('EIO: the disk went away'));
    };
    expectError(await s.send('w1', 'w2', { message: 'lost' }), 500, 'INTERNAL_ERROR');
    expect((await s.send('w1', 'w2', { message: 'one' })).status).toBe(201);
    expect((await s.send('w1', 'w2', { message: 'two' })).status).toBe(201);
    expectError(await s.send('w1', 'w2', { message: 'three' }), 429, 'RATE_LIMITED');
    expect(s.messageFiles()).toHaveLength(2);
  });

  it('forgets the rate window and wake-up time of a session that ended or was deleted (issue 21 item 16)', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '5' });
    await team(s);
    s.services.messages.notify = () => true;
    await s.send('w1', 'w2', { message: 'hi' });
    await s.send('w2', 'boss', { message: 'hello', metadata: { priority: 'high' } });
    await s.fence();
    expect(s.services.messages.trackedSessions()).toEqual({ rate: 2, wake: 2 });
    await s.ok('PATCH', '/api/sessions/w1', { status: 'completed' });
    await s.ok('DELETE', '/api/sessions/w2');
    await s.fence();
    expect(s.services.messages.trackedSessions()).toEqual({ rate: 0, wake: 1 });
    await s.ok('DELETE', '/api/sessions/boss');
    expect(s.services.messages.trackedSessions()).toEqual({ rate: 0, wake: 0 });
  });

  it('MAESTRO_MESSAGE_RATE=0 disables the limit', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    for (let i = 0; i < 25; i++) expect((await s.send('w1', 'w2', { message: `m${i}` })).status).toBe(201);
  });

  it('bad bodies are refused, never stored, never a 500', async () => {
    const s = await setup();
    await team(s);
    expectError(await s.send('w1', 'w2', '{"message": "x"'), 400, 'INVALID_JSON');
    expectError(await s.send('w1', 'w2', '["message"]'), 400, 'VALIDATION_ERROR');
    const huge = await s.send('w1', 'w2', { message: 'x'.repeat(2 * 1024 * 1024) });
    expectError(huge, 413, 'PAYLOAD_TOO_LARGE');
    expect(s.messageFiles()).toEqual([]);
  });
});

describe('sender identity by session token (§15.6)', () => {
  it("the token's session is the sender and the reader; an X-Session-ID naming another session is 403", async () => {
    const s = await setup();
    await team(s);
    // Real session tokens, as a spawn mints them (§15.6).
    const [w1, w2] = await s.services.db.mutate((tx) => [s.services.tokens.mint(tx, 'w1'), s.services.tokens.mint(tx, 'w2')]);
    const { app } = await createApp(s.services);
    const call = async (method: string, path: string, body: unknown, headers: Record<string, string>) => {
      const res = await app.request(path, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any, headers: res.headers };
    };
    const spoof = await call(
      'POST',
      '/api/sessions/w2/messages',
      { message: 'I am boss' },
      { authorization: `Bearer ${w1}`, 'x-session-id': 'boss' },
    );
    expectError(spoof, 403, 'FORBIDDEN', 'X-Session-ID names another session than the session token');
    expect(s.messageFiles()).toEqual([]);
    const same = await call(
      'POST',
      '/api/sessions/w2/messages',
      { message: 'hello' },
      { authorization: `Bearer ${w1}`, 'x-session-id': 'w1' },
    );
    const plain = await call('POST', '/api/sessions/w2/messages', { message: 'hello again' }, { authorization: `Bearer ${w1}` });
    expect([same.status, same.body.from, plain.status, plain.body.from]).toEqual([201, 'w1', 201, 'w1']);
    const inbox = await call('GET', '/api/sessions/w2/messages', undefined, { authorization: `Bearer ${w2}` });
    expect(inbox.body.map((m: any) => m.status)).toEqual(['delivered', 'delivered']);
    expectError(
      await call('PATCH', `/api/messages/${same.body.id}`, { status: 'read' }, { authorization: `Bearer ${w1}` }),
      403,
      'FORBIDDEN',
    );
  });
});

describe('reading, delivery and acknowledgement (§16.3)', () => {
  it('the receiver reading its own inbox takes delivery; anyone else reads without side effects', async () => {
    const s = await setup();
    await team(s);
    const a = (await s.send('w1', 'w2', { message: 'first' })).body;
    s.clock.now += 1;
    const b = (await s.send('boss', 'w2', { message: 'second' })).body;
    // A person, the sender, another session: nothing changes.
    for (const headers of [{}, s.as('w1'), s.as('boss')]) {
      const res = await s.call('GET', '/api/sessions/w2/messages', undefined, headers);
      expect(res.body.map((m: any) => [m.id, m.status])).toEqual([
        [a.id, 'pending'],
        [b.id, 'pending'],
      ]);
    }
    expect((await s.call('GET', `/api/messages/${a.id}`, undefined, s.as('w2'))).body.status).toBe('pending');
    s.clock.now += 5;
    const own = await s.call('GET', '/api/sessions/w2/messages', undefined, s.as('w2'));
    expect(own.body).toEqual([
      { ...a, status: 'delivered', deliveredAt: T0 + 6 },
      { ...b, status: 'delivered', deliveredAt: T0 + 6 },
    ]);
    expect((await s.call('GET', `/api/messages/${a.id}`)).body.status).toBe('delivered');
    const file = join(s.config.dataDir, 'messages', 'by-receiver', 'w2', `${a.id}.json`);
    expect(JSON.parse(readFileSync(file, 'utf8')).status).toBe('delivered');
    // Reading the sent box is never a delivery.
    const sent = await s.call('GET', '/api/sessions/w1/messages?box=sent', undefined, s.as('w1'));
    expect(sent.body.map((m: any) => m.id)).toEqual([a.id]);
  });

  it('filters: status (comma list), since (createdAt greater than), limit (the oldest), box', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await s.send('w1', 'w2', { message: `m${i}` })).body.id);
      s.clock.now += 1000;
    }
    await s.ok('PATCH', `/api/messages/${ids[0]}`, { status: 'read' });
    await s.ok('PATCH', `/api/messages/${ids[1]}`, { status: 'delivered' });
    const get = async (q: string) => (await s.call('GET', `/api/sessions/w2/messages${q}`)).body.map((m: any) => ids.indexOf(m.id));
    expect(await get('')).toEqual([0, 1, 2, 3, 4]);
    expect(await get('?status=pending')).toEqual([2, 3, 4]);
    expect(await get('?status=read,delivered')).toEqual([0, 1]);
    expect(await get(`?since=${T0 + 2000}`)).toEqual([3, 4]);
    expect(await get(`?since=${T0 + 1999}`)).toEqual([2, 3, 4]);
    expect(await get('?limit=2')).toEqual([0, 1]);
    expect(await get('?status=pending&limit=1')).toEqual([2]);
    expect(await get('?box=inbox&status=failed')).toEqual([]);
    expect((await s.call('GET', '/api/sessions/w1/messages?box=sent')).body).toHaveLength(5);
    expect((await s.call('GET', '/api/sessions/w1/messages')).body).toEqual([]);
    // The receiver asking for its pending messages takes delivery of exactly those.
    const own = await s.call('GET', '/api/sessions/w2/messages?status=pending&limit=2', undefined, s.as('w2'));
    expect(own.body.map((m: any) => [ids.indexOf(m.id), m.status])).toEqual([
      [2, 'delivered'],
      [3, 'delivered'],
    ]);
    expect(await get('?status=pending')).toEqual([4]);
    for (const q of ['?box=outbox', '?status=new', '?status=pending,bogus', '?since=yesterday', '?limit=0', '?limit=1001']) {
      expectError(await s.call('GET', `/api/sessions/w2/messages${q}`), 400, 'VALIDATION_ERROR');
    }
    expectError(await s.call('GET', '/api/sessions/nobody/messages'), 404, 'SESSION_NOT_FOUND', 'Session not found');
  });

  it('PATCH: the transitions, same status again unchanged, the receiver or a person only', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const m = (await s.send('w1', 'w2', { message: 'hi' })).body;
    s.clock.now += 10;
    const delivered = await s.call('PATCH', `/api/messages/${m.id}`, { status: 'delivered' }, s.as('w2'));
    expect(delivered.body).toEqual({ ...m, status: 'delivered', deliveredAt: T0 + 10 });
    expect((await s.call('PATCH', `/api/messages/${m.id}`, { status: 'delivered' }, s.as('w2'))).body).toEqual(delivered.body);
    s.clock.now += 10;
    const read = await s.call('PATCH', `/api/messages/${m.id}`, { status: 'read' }, s.as('w2'));
    expect(read.body).toEqual({ ...m, status: 'read', deliveredAt: T0 + 10, readAt: T0 + 20 });
    expect((await s.call('PATCH', `/api/messages/${m.id}`, { status: 'read' })).body).toEqual(read.body);
    expectError(
      await s.call('PATCH', `/api/messages/${m.id}`, { status: 'delivered' }),
      400,
      'VALIDATION_ERROR',
      'A message that is read cannot become delivered',
    );

    // pending → read sets both times; a person may acknowledge; the sender or a third session may not.
    const n = (await s.send('w1', 'w2', { message: 'again' })).body;
    for (const who of ['w1', 'boss']) {
      const res = await s.call('PATCH', `/api/messages/${n.id}`, { status: 'read' }, s.as(who));
      expectError(res, 403, 'FORBIDDEN', 'Only the receiver can mark a message delivered or read');
    }
    const direct = await s.call('PATCH', `/api/messages/${n.id}`, { status: 'read' });
    expect(direct.body).toMatchObject({ status: 'read', deliveredAt: T0 + 20, readAt: T0 + 20 });

    for (const body of [{}, { status: 'pending' }, { status: 'failed' }, { status: 7 }]) {
      expectError(await s.call('PATCH', `/api/messages/${n.id}`, body), 400, 'VALIDATION_ERROR');
    }
    expectError(await s.call('PATCH', '/api/messages/msg_nope', { status: 'read' }), 404, 'NOT_FOUND', 'Message not found');
    expectError(await s.call('GET', '/api/messages/msg_nope'), 404, 'NOT_FOUND', 'Message not found');
    expectError(await s.call('GET', '/api/messages/..%2F..%2Fetc'), 404, 'NOT_FOUND');
  });

  it('DELETE: the receiver, the sender or a person; the file goes', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await s.send('w1', 'w2', { message: `m${i}` })).body.id);
    expectError(
      await s.call('DELETE', `/api/messages/${ids[0]}`, undefined, s.as('boss')),
      403,
      'FORBIDDEN',
      'Only the receiver or the sender can delete a message',
    );
    for (const [id, headers] of [
      [ids[0], s.as('w2')],
      [ids[1], s.as('w1')],
      [ids[2], {}],
    ] as const) {
      expect((await s.call('DELETE', `/api/messages/${id}`, undefined, headers)).body).toEqual({ success: true, id });
      expectError(await s.call('GET', `/api/messages/${id}`), 404, 'NOT_FOUND');
    }
    expect(s.messageFiles()).toEqual([]);
    expectError(await s.call('DELETE', `/api/messages/${ids[0]}`), 404, 'NOT_FOUND', 'Message not found');
  });
});

describe('deadlines, failures and retention (§16.4)', () => {
  it('a message not read by its expiresAt becomes expired, on the sweep after the deadline', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const pending = (await s.send('w1', 'w2', { message: 'soon', expiresInMs: 1000 })).body;
    const delivered = (await s.send('w1', 'w2', { message: 'seen', expiresInMs: 1000 })).body;
    const read = (await s.send('w1', 'w2', { message: 'done', expiresInMs: 1000 })).body;
    const forever = (await s.send('w1', 'w2', { message: 'no deadline' })).body;
    await s.ok('PATCH', `/api/messages/${delivered.id}`, { status: 'delivered' });
    await s.ok('PATCH', `/api/messages/${read.id}`, { status: 'read' });
    s.clock.now += 999;
    expect(await s.services.messages.sweep()).toBe(0);
    s.clock.now += 1;
    expect(await s.services.messages.sweep()).toBe(2);
    const status = async (id: string) => (await s.call('GET', `/api/messages/${id}`)).body.status;
    expect([await status(pending.id), await status(delivered.id), await status(read.id), await status(forever.id)]).toEqual([
      'expired',
      'expired',
      'read',
      'pending',
    ]);
    expect(await s.services.messages.sweep()).toBe(0);
    expectError(
      await s.call('PATCH', `/api/messages/${pending.id}`, { status: 'read' }),
      400,
      'VALIDATION_ERROR',
      'A message that is expired cannot become read',
    );
  });

  it('the expiry timer runs by itself within a second of the deadline', async () => {
    const s = await setup();
    await team(s);
    const m = (await s.send('w1', 'w2', { message: 'soon', expiresInMs: 1000 })).body;
    s.clock.now += 1000;
    const started = Date.now();
    while ((await s.call('GET', `/api/messages/${m.id}`)).body.status !== 'expired') {
      expect(Date.now() - started).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('a receiver that ends fails its pending messages; delivered ones stay', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const pending = (await s.send('w1', 'w2', { message: 'lost?' })).body;
    const delivered = (await s.send(null, 'w2', { message: 'seen' })).body;
    await s.ok('PATCH', `/api/messages/${delivered.id}`, { status: 'delivered' });
    const toOther = (await s.send('w2', 'w1', { message: 'from the ending one' })).body;
    await s.ok('PATCH', '/api/sessions/w2', { status: 'failed' });
    await s.fence();
    expect((await s.call('GET', `/api/messages/${pending.id}`)).body).toEqual({
      ...pending,
      status: 'failed',
      failReason: 'receiver ended before delivery',
    });
    expect((await s.call('GET', `/api/messages/${delivered.id}`)).body.status).toBe('delivered');
    expect((await s.call('GET', `/api/messages/${toOther.id}`)).body.status).toBe('pending');
    // The sender sees it in its sent box.
    const sent = (await s.call('GET', '/api/sessions/w1/messages?box=sent')).body;
    expect(sent.map((m: any) => m.status)).toEqual(['failed']);
  });

  it('deleting a receiver fails its pending messages, then removes its inbox files', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const m = (await s.send('w1', 'w2', { message: 'to be lost' })).body;
    const kept = (await s.send('w2', 'w1', { message: 'sent by the deleted one' })).body;
    expect(existsSync(join(s.config.dataDir, 'messages', 'by-receiver', 'w2', `${m.id}.json`))).toBe(true);
    await s.ok('DELETE', '/api/sessions/w2');
    await s.fence();
    await s.fence();
    expectError(await s.call('GET', `/api/messages/${m.id}`), 404, 'NOT_FOUND');
    expect(s.messageFiles().map((f) => f.split(/[\\/]/).slice(-2).join('/'))).toEqual([`w1/${kept.id}.json`]);
  });

  it('retention: messages older than MAESTRO_MESSAGE_RETENTION_DAYS are deleted, at startup and hourly', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RETENTION_DAYS: '2' });
    await team(s);
    const old = (await s.send('w1', 'w2', { message: 'old' })).body;
    s.clock.now += 86_400_000;
    const young = (await s.send('w1', 'w2', { message: 'young' })).body;
    s.clock.now += 86_400_000 - 1;
    expect(await s.services.messages.retain()).toBe(0);
    s.clock.now += 1;
    expect(await s.services.messages.retain()).toBe(1);
    expectError(await s.call('GET', `/api/messages/${old.id}`), 404, 'NOT_FOUND');
    expect((await s.call('GET', `/api/messages/${young.id}`)).status).toBe(200);
    expect(s.messageFiles()).toHaveLength(1);
  });
});

describe('a large inbox taking delivery (§16.3)', () => {
  /** Every stored file but the journal and the event log, by path, with its text. */
  const storedFiles = (dataDir: string) =>
    new Map(
      readdirSync(dataDir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith('.json'))
        .map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), 'utf8')]),
    );

  it.skipIf(onDatabase())(
    'the first read writes a handful of files, serves every message delivered, and keeps it after a restart',
    async () => {
      const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
      await team(s);
      const sent: any[] = [];
      for (let i = 0; i < 300; i++) {
        s.clock.now += 1;
        sent.push((await s.send(null, 'w2', { message: `m${i}`, metadata: { priority: 'low' } })).body);
      }
      s.clock.now += 10;
      const before = storedFiles(s.config.dataDir);
      // The oldest 250 by a limit: the rest stay pending.
      const own = await s.call('GET', '/api/sessions/w2/messages?limit=250', undefined, s.as('w2'));
      expect(own.body).toEqual(sent.slice(0, 250).map((m) => ({ ...m, status: 'delivered', deliveredAt: s.clock.now })));
      const after = storedFiles(s.config.dataDir);
      const written = [...after].filter(([path, text]) => before.get(path) !== text).map(([path]) => path);
      expect(written.length).toBeLessThanOrEqual(2);
      const served = async (headers = {}) =>
        (await s.call('GET', '/api/sessions/w2/messages', undefined, headers)).body.map((m: any) => [m.status, m.deliveredAt]);
      const expected = [
        ...Array.from({ length: 250 }, () => ['delivered', s.clock.now]),
        ...Array.from({ length: 50 }, () => ['pending', null]),
      ];
      expect(await served()).toEqual(expected);
      expect((await s.call('GET', `/api/messages/${sent[0].id}`)).body).toMatchObject({ status: 'delivered', deliveredAt: s.clock.now });

      // Acknowledging one writes it in full; a receiver that ends fails only what is still pending.
      const deliveredAt = s.clock.now;
      s.clock.now += 5;
      expect((await s.call('PATCH', `/api/messages/${sent[3].id}`, { status: 'read' }, s.as('w2'))).body).toMatchObject({
        status: 'read',
        deliveredAt,
        readAt: s.clock.now,
      });
      const file = join(s.config.dataDir, 'messages', 'by-receiver', 'w2', `${sent[3].id}.json`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ status: 'read', deliveredAt });
      expected[3] = ['read', deliveredAt];
      await s.close();

      const again = await setup({}, s.config.dataDir);
      expect(
        await (async () => (await again.call('GET', '/api/sessions/w2/messages')).body.map((m: any) => [m.status, m.deliveredAt]))(),
      ).toEqual(expected);
      await again.ok('PATCH', '/api/sessions/w2', { status: 'completed' });
      await again.fence();
      const statuses = (await again.call('GET', '/api/sessions/w2/messages?status=delivered,failed,read')).body.map((m: any) => m.status);
      expect(statuses.filter((x: string) => x === 'delivered')).toHaveLength(249);
      expect(statuses.filter((x: string) => x === 'failed')).toHaveLength(50);
    },
  );

  it('a small delivery writes each message file, as before', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const m = (await s.send(null, 'w2', { message: 'one' })).body;
    s.clock.now += 1;
    await s.call('GET', '/api/sessions/w2/messages', undefined, s.as('w2'));
    const file = join(s.config.dataDir, 'messages', 'by-receiver', 'w2', `${m.id}.json`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ status: 'delivered', deliveredAt: T0 + 1 });
  });
});

describe('restart', () => {
  it.skipIf(onDatabase())('serves the same messages, in the same order, from the files', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    for (let i = 0; i < 6; i++) await s.send(i % 2 ? 'w1' : 'boss', 'w2', { message: `m${i}`, metadata: { priority: 'low' } });
    await s.send('w2', 'boss', { message: 'reply', expiresInMs: 60_000 });
    await s.call('GET', '/api/sessions/w2/messages?limit=2', undefined, s.as('w2'));
    const paths = [
      '/api/sessions/w2/messages',
      '/api/sessions/w1/messages?box=sent',
      '/api/sessions/boss/messages',
      '/api/sessions/boss/messages?box=sent',
    ];
    const before = await Promise.all(paths.map(async (p) => (await s.call('GET', p)).body));
    await s.close();
    const again = await setup({}, s.config.dataDir);
    for (const [i, p] of paths.entries()) expect((await again.call('GET', p)).body, p).toEqual(before[i]);
  });
});

describe("startup repairs what a crash left between a session's end and its follow-up", () => {
  it.skipIf(onDatabase())('fails pending messages of an ended receiver and removes the inbox of a session that is gone', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const toEnded = (await s.send('w1', 'w2', { message: 'to w2' })).body;
    const toGone = (await s.send('w1', 'boss', { message: 'to boss' })).body;
    const kept = (await s.send('w2', 'w1', { message: 'to w1' })).body;
    // As if the server died right after these session changes were written, before their follow-ups ran (stopped
    // first: one server per data directory, and a stop leaves nothing in the journal to replay over the edits).
    await s.close();
    const sessionFile = (id: string) => join(s.config.dataDir, 'sessions', `${id}.json`);
    const w2 = JSON.parse(readFileSync(sessionFile('w2'), 'utf8'));
    writeFileSync(sessionFile('w2'), JSON.stringify({ ...w2, status: 'stopped' }, null, 2));
    rmSync(sessionFile('boss'));
    const again = await setup({}, s.config.dataDir);
    expect((await again.call('GET', `/api/messages/${toEnded.id}`)).body).toEqual({
      ...toEnded,
      status: 'failed',
      failReason: 'receiver ended before delivery',
    });
    expectError(await again.call('GET', `/api/messages/${toGone.id}`), 404, 'NOT_FOUND');
    expect((await again.call('GET', `/api/messages/${kept.id}`)).body).toEqual(kept);
    expect(existsSync(join(s.config.dataDir, 'messages', 'by-receiver', 'boss', `${toGone.id}.json`))).toBe(false);
  });
});

describe('the wake-up hook (§16.3)', () => {
  it('medium and high priority messages call notify at most once per 30 s per receiver; typed → delivered', async () => {
    const s = await setup({ MAESTRO_MESSAGE_RATE: '0' });
    await team(s);
    const calls: [string, string][] = [];
    s.services.messages.notify = (sessionId, message) => {
      calls.push([sessionId, message.id]);
      return sessionId === 'w2';
    };
    const low = (await s.send('w1', 'w2', { message: 'fyi', metadata: { priority: 'low' } })).body;
    const first = (await s.send('w1', 'w2', { message: 'wake up' })).body;
    await s.fence();
    const second = (await s.send('boss', 'w2', { message: 'again', metadata: { priority: 'high' } })).body;
    const elsewhere = (await s.send('w2', 'w1', { message: 'to w1, not typed' })).body;
    await s.fence();
    expect(calls).toEqual([
      ['w2', first.id],
      ['w1', elsewhere.id],
    ]);
    const status = async (id: string) => (await s.call('GET', `/api/messages/${id}`)).body.status;
    expect([await status(low.id), await status(first.id), await status(second.id), await status(elsewhere.id)]).toEqual([
      'pending',
      'delivered',
      'pending',
      'pending',
    ]);
    // Not typed for w1 (no running agent): the next message to w1 tries again at once.
    const retry = (await s.send('w2', 'w1', { message: 'again' })).body;
    s.clock.now += 30_000;
    const later = (await s.send('w1', 'w2', { message: 'after 30 s' })).body;
    await s.fence();
    expect(calls.slice(2)).toEqual([
      ['w1', retry.id],
      ['w2', later.id],
    ]);
  });
});

describe('events over a real WebSocket (§16.6)', () => {
  it('each change emits its events in order, carrying the message as stored after it', async () => {
    const server = await startTestServer({ MAESTRO_MESSAGE_RATE: '0' });
    const ok = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      const res = await server.call(method, path, body, headers);
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
      return res.body;
    };
    const project = await ok('POST', '/api/projects', { name: 'P' });
    for (const id of ['a', 'b']) await ok('POST', '/api/sessions', { id, projectId: project.id, taskIds: [] });
    const ws = await server.listen();
    const shape = (events: any[]) => events.map((e) => [e.type, e.data]);

    const m = await ok('POST', '/api/sessions/b/messages', { message: 'hello', expiresInMs: 60_000 }, { 'x-session-id': 'a' });
    expect(shape(await ws.drain())).toEqual([
      ['message:created', m],
      ['session:message_sent', { sessionId: 'a', message: m }],
      ['session:message_received', { sessionId: 'b', message: m }],
    ]);
    const fromUser = await ok('POST', '/api/sessions/b/messages', { message: 'from a person' });
    expect(shape(await ws.drain())).toEqual([
      ['message:created', fromUser],
      ['session:message_received', { sessionId: 'b', message: fromUser }],
    ]);
    // A read by someone else: no events.
    await ok('GET', '/api/sessions/b/messages', undefined, { 'x-session-id': 'a' });
    expect(await ws.drain()).toEqual([]);
    const inbox = await ok('GET', '/api/sessions/b/messages', undefined, { 'x-session-id': 'b' });
    expect(shape(await ws.drain())).toEqual(inbox.map((x: any) => ['message:delivered', x]));
    const read = await ok('PATCH', `/api/messages/${m.id}`, { status: 'read' }, { 'x-session-id': 'b' });
    expect(shape(await ws.drain())).toEqual([['message:read', read]]);
    await ok('PATCH', `/api/messages/${m.id}`, { status: 'read' });
    expect(await ws.drain()).toEqual([]);
    await ok('DELETE', `/api/messages/${m.id}`, undefined, { 'x-session-id': 'a' });
    expect(shape(await ws.drain())).toEqual([['message:deleted', { id: m.id, from: 'a', to: 'b' }]]);

    // A receiver's end: message:failed for what was still pending, then the delete's own events.
    const lost = await ok('POST', '/api/sessions/a/messages', { message: 'never read' }, { 'x-session-id': 'b' });
    await ws.drain();
    await ok('DELETE', '/api/sessions/a');
    const events = await ws.waitFor(3);
    expect(events.map((e) => e.type)).toEqual(['session:deleted', 'message:failed', 'message:deleted']);
    expect(events[1].data).toEqual({ ...lost, status: 'failed', failReason: 'receiver ended before delivery' });
    expect(events[2].data).toEqual({ id: lost.id, from: 'b', to: 'a' });
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2]);
  });
});

describe('message:deleted reaches the streams of both ends (§24.1)', () => {
  it('carries { id, from, to }, so the messages=only streams of the receiver and the sender see a deletion', async () => {
    const server = await startTestServer({ MAESTRO_MESSAGE_RATE: '0' });
    const project = (await server.call('POST', '/api/projects', { name: 'P' })).body;
    for (const id of ['a', 'b', 'c']) await server.call('POST', '/api/sessions', { id, projectId: project.id, taskIds: [] });
    const stream = (id: string) => server.listen(`/ws?sessionId=${id}&messages=only`);
    const [ofA, ofB, ofC] = [await stream('a'), await stream('b'), await stream('c')];
    const m = (await server.call('POST', '/api/sessions/b/messages', { message: 'hello' }, { 'x-session-id': 'a' })).body;
    await Promise.all([ofA.drain(), ofB.drain()]);

    expect((await server.call('DELETE', `/api/messages/${m.id}`, undefined, { 'x-session-id': 'b' })).status).toBe(200);
    const deleted = ['message:deleted', { id: m.id, from: 'a', to: 'b' }];
    const shape = (events: any[]) => events.map((e) => [e.type, e.data]);
    expect(shape(await ofB.drain())).toEqual([deleted]);
    expect(shape(await ofA.drain())).toEqual([deleted]);
    expect(await ofC.drain()).toEqual([]);

    // The inbox of a deleted receiver goes too: its sender's stream sees each message fail, then go.
    const lost = (await server.call('POST', '/api/sessions/c/messages', { message: 'never read' }, { 'x-session-id': 'a' })).body;
    await Promise.all([ofA.drain(), ofC.drain()]);
    await server.call('DELETE', '/api/sessions/c');
    expect(shape(await ofA.waitFor(2))).toEqual([
      ['message:failed', { ...lost, status: 'failed', failReason: 'receiver ended before delivery' }],
      ['message:deleted', { id: lost.id, from: 'a', to: 'c' }],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real processes: the compiled server killed in a burst, and the `maestro` CLI as agents and hooks run it.

const SLOW = { timeout: 60_000 };

const request = async (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
};

/** A project with the given sessions, created through the API. */
async function seed(base: string, ids: string[]) {
  const project = (await request(base, 'POST', '/api/projects', { name: 'Messages' })).body;
  for (const id of ids) {
    const res = await request(base, 'POST', '/api/sessions', { id, projectId: project.id, taskIds: [] });
    expect(res.status, res.text).toBe(201);
  }
  return project;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

// Nothing of the environment this suite runs in may leak into the CLI (it could run inside a Maestro session).
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAESTRO_'))) as Record<string, string>;
/**
 * `maestro <args>` as the session `env` names: in-process, or as the compiled bin in its own process when it reads
 * `input` from its stdin (a pipe, as `echo … | maestro session send -` gives it).
 */
const maestro = async (url: string, args: string[], env: Record<string, string> = {}, input?: string) => {
  if (input === undefined) return runCli(args, { ...baseEnv, MAESTRO_API_URL: url, ...env });
  const r = await execa(process.execPath, [CLI_BIN, ...args], {
    env: { ...baseEnv, MAESTRO_API_URL: url, ...env },
    extendEnv: false,
    reject: false,
    timeout: 15_000,
    input,
  });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
};

describe('crash safety of sends (kill -9 during a burst)', SLOW, () => {
  it('keeps every acknowledged message and leaves no unparseable file', async () => {
    const env = testEnv({ MAESTRO_MESSAGE_RATE: '0', LOG_LEVEL: 'info' });
    const first = await startServerProcess(env);
    const base = first.url.replace('//localhost:', '//127.0.0.1:');
    await seed(base, ['a', 'b', 'c']);
    const TOTAL = 2000;
    const KILL_AFTER = 40;
    const answered: any[] = [];
    let failed = 0;
    let next = 0;
    // Ten senders, each sending until the kill stops it: the kill always finds sends in flight, however fast the server.
    const sender = async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        const [from, to] = [
          ['a', 'b'],
          ['b', 'c'],
          [null, 'a'],
          ['c', 'a'],
        ][i % 4]!;
        try {
          const res = await request(
            base,
            'POST',
            `/api/sessions/${to}/messages`,
            { message: `burst ${i} ${'z'.repeat((i % 200) * 40)}` },
            from ? { 'x-session-id': from } : {},
          );
          if (res.status !== 201) throw new Error(`unexpected ${res.status}: ${res.text}`);
          answered.push(res.body);
          if (answered.length === KILL_AFTER) first.proc.kill('SIGKILL');
        } catch (error) {
          if (String(error).includes('unexpected')) throw error;
          failed++;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, sender));
    expect(await first.exited).toBeNull();
    expect(failed, 'sends left unanswered by the kill').toBeGreaterThan(0);
    expect(answered.length).toBeGreaterThanOrEqual(KILL_AFTER);

    const second = await startServerProcess(env);
    const base2 = second.url.replace('//localhost:', '//127.0.0.1:');
    for (const m of answered) expect((await request(base2, 'GET', `/api/messages/${m.id}`)).body, m.id).toEqual(m);
    const dir = join(env.DATA_DIR!, 'messages', 'by-receiver');
    const files = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.json') && !e.name.startsWith('.'))
      .map((e) => join(e.parentPath, e.name));
    for (const file of files) expect(() => JSON.parse(readFileSync(file, 'utf8')), file).not.toThrow();
    let served = 0;
    for (const id of ['a', 'b', 'c']) served += (await request(base2, 'GET', `/api/sessions/${id}/messages`)).body.length;
    expect(served).toBe(files.length);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describe('the maestro CLI between two sessions (§16.5)', SLOW, () => {
  it("a request and its response, delivery on the receiver's read, --mark-read, message read and delete", async () => {
    const server = await startTestServer();
    await seed(server.url, ['alice', 'bob']);
    const alice = { MAESTRO_SESSION_ID: 'alice' };
    const bob = { MAESTRO_SESSION_ID: 'bob' };

    const sent = await maestro(
      server.url,
      [
        'session',
        'send',
        '--to',
        'bob',
        '--type',
        'request',
        '--priority',
        'high',
        '--requires-ack',
        '--expires-in',
        '1h',
        '--message',
        'Please review PR 12',
      ],
      alice,
    );
    expect(sent, sent.stderr).toMatchObject({ code: 0 });
    const requestId = sent.stdout.trim();
    expect(requestId).toMatch(/^msg_\d+_[0-9a-z]+$/);
    const stored = (await server.call('GET', `/api/messages/${requestId}`)).body;
    expect(stored).toMatchObject({
      from: 'alice',
      to: 'bob',
      status: 'pending',
      metadata: { type: 'request', priority: 'high', requiresAck: true },
    });
    expect(stored.expiresAt - stored.createdAt).toBe(3_600_000);

    // Alice looking at Bob's inbox changes nothing; Bob reading it takes delivery.
    const peek = await maestro(server.url, ['inbox', '--session', 'bob'], alice);
    expect(peek.stdout).toContain(`${requestId}  from alice to bob  [pending]  request, high, needs ack`);
    const inbox = await maestro(server.url, ['inbox'], bob);
    expect(inbox.code).toBe(0);
    expect(inbox.stdout.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${requestId}  from alice to bob  \\[delivered\\]`)),
      '    Please review PR 12',
    ]);

    const reply = await maestro(
      server.url,
      ['session', 'send', '--to', 'alice', '--type', 'response', '--reply-to', requestId, '-'],
      bob,
      'Approved.\nTwo nits inline.\n',
    );
    expect(reply.code, reply.stderr).toBe(0);
    const replyId = reply.stdout.trim();
    expect((await maestro(server.url, ['message', 'read', requestId], bob)).stdout).toBe(`Message ${requestId} is read`);

    const answer = await maestro(server.url, ['inbox', '--mark-read', '--json'], alice);
    const shown = JSON.parse(answer.stdout).data;
    expect(shown.map((m: any) => [m.id, m.message, m.metadata.replyTo, m.status])).toEqual([
      [replyId, 'Approved.\nTwo nits inline.', requestId, 'read'],
    ]);
    expect((await server.call('GET', `/api/messages/${replyId}`)).body.status).toBe('read');
    expect((await maestro(server.url, ['inbox'], alice)).stdout).toBe('No messages.');
    expect((await maestro(server.url, ['inbox', '--all'], alice)).stdout).toContain(`${replyId}  from bob to alice  [read]`);
    const sentBox = await maestro(server.url, ['inbox', '--sent', '--all', '--json'], alice);
    expect(JSON.parse(sentBox.stdout).data.map((m: any) => [m.id, m.status])).toEqual([[requestId, 'read']]);

    expect((await maestro(server.url, ['message', 'delete', replyId], alice)).stdout).toBe(`Deleted message ${replyId}`);
    expect((await server.call('GET', `/api/messages/${replyId}`)).status).toBe(404);

    // Refusals reach the user with the server's message and a failing exit code.
    const self = await maestro(server.url, ['session', 'send', '--to', 'alice', '-m', 'hi'], alice);
    expect(self).toMatchObject({ code: 1, stderr: 'maestro: A session cannot send a message to itself' });
    const nobody = await maestro(server.url, ['session', 'send', '--to', 'nobody', '-m', 'hi'], alice);
    expect(nobody).toMatchObject({ code: 2, stderr: 'maestro: Session not found' });
    const ways = await maestro(server.url, ['session', 'send', '--to', 'bob'], alice);
    expect(ways.code).toBe(1);
    expect(ways.stderr).toContain('exactly one way');
    // Without MAESTRO_SESSION_ID the sender is a person.
    const person = await maestro(server.url, ['session', 'send', '--to', 'bob', '-m', 'from a person']);
    expect((await server.call('GET', `/api/messages/${person.stdout.trim()}`)).body.from).toBe('user');
    const cleared = await maestro(server.url, ['inbox', '--clear'], bob);
    expect(cleared.stdout).toContain('from a person');
    expect((await server.call('GET', '/api/sessions/bob/messages')).body.map((m: any) => m.status)).toEqual(['read']);
  });

  it('inbox --watch prints each message once, including one sent while it was reconnecting', async () => {
    const port = await freePort();
    const env = testEnv({ PORT: String(port), LOG_LEVEL: 'info' });
    const first = await startServerProcess(env);
    const base = `http://127.0.0.1:${port}`;
    await seed(base, ['alice', 'bob']);
    const early = (await request(base, 'POST', '/api/sessions/bob/messages', { message: 'before the watch' }, { 'x-session-id': 'alice' }))
      .body;

    const watch = execa(process.execPath, [CLI_BIN, 'inbox', '--watch'], {
      env: { ...baseEnv, MAESTRO_API_URL: base, MAESTRO_SESSION_ID: 'bob' },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    let out = '';
    let err = '';
    watch.stdout!.on('data', (c) => (out += c));
    watch.stderr!.on('data', (c) => (err += c));
    const printed = async (id: string) => {
      const started = Date.now();
      while (!out.includes(id)) {
        if (Date.now() - started > 15_000) throw new Error(`watch never printed ${id}:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      await printed(early.id);
      const live = (await request(base, 'POST', '/api/sessions/bob/messages', { message: 'while watching' })).body;
      await printed(live.id);

      first.proc.kill('SIGTERM');
      expect(await first.exited, first.output()).toBe(0);
      while (!err.includes('retrying')) await new Promise((r) => setTimeout(r, 25));
      const second = await startServerProcess(env);
      const missed = (
        await request(base, 'POST', '/api/sessions/bob/messages', { message: 'sent during the reconnect' }, { 'x-session-id': 'alice' })
      ).body;
      await printed(missed.id);
      // Delivered to the watcher: it reads its own inbox.
      expect((await request(base, 'GET', `/api/messages/${missed.id}`)).body.status).toBe('delivered');
      for (const m of [early, live, missed]) expect(out.split(m.id).length - 1, `${m.id} printed once`).toBe(1);
      expect(err).toContain('reconnected');
      second.proc.kill('SIGTERM');
      await second.exited;
    } finally {
      watch.kill('SIGTERM');
      await watch;
    }
  });
});

/** The hook of the README: Claude Code runs it on every prompt and adds what it prints to the agent's context. */
const CLAUDE_HOOK = { hooks: { UserPromptSubmit: [{ hooks: [{ type: 'command', command: 'maestro inbox --quiet' }] }] } };

describe('a Claude Code UserPromptSubmit hook running maestro inbox --quiet', SLOW, () => {
  it("puts new messages into the prompt's context once, prints nothing otherwise, and never fails the prompt", async () => {
    const server = await startTestServer();
    await seed(server.url, ['agent', 'lead']);
    // `maestro` on the PATH, as after `npm install -g`.
    const bin = tempDir('maestro-bin-');
    writeFileSync(join(bin, 'maestro'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_BIN}" "$@"\n`);
    chmodSync(join(bin, 'maestro'), 0o755);
    const hook = async (url: string) => {
      const { command } = CLAUDE_HOOK.hooks.UserPromptSubmit[0]!.hooks[0]!;
      // What Claude Code pipes into a UserPromptSubmit hook.
      const input = JSON.stringify({
        session_id: 'claude-1',
        transcript_path: '/tmp/t.jsonl',
        cwd: '/tmp',
        hook_event_name: 'UserPromptSubmit',
        prompt: 'go on',
      });
      const r = await execa('sh', ['-c', command], {
        input,
        reject: false,
        timeout: 15_000,
        extendEnv: false,
        env: { ...baseEnv, PATH: `${bin}${delimiter}${baseEnv.PATH ?? ''}`, MAESTRO_API_URL: url, MAESTRO_SESSION_ID: 'agent' },
      });
      return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    };
    expect(await hook(server.url)).toEqual({ code: 0, stdout: '', stderr: '' });
    const m = (
      await server.call(
        'POST',
        '/api/sessions/agent/messages',
        { message: 'Use the staging database, not prod.', metadata: { type: 'command' } },
        { 'x-session-id': 'lead' },
      )
    ).body;
    const first = await hook(server.url);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('[maestro] 1 new message:');
    expect(first.stdout).toContain(`${m.id}  from lead to agent  [delivered]  command, medium`);
    expect(first.stdout).toContain('    Use the staging database, not prod.');
    expect((await server.call('GET', `/api/messages/${m.id}`)).body.status).toBe('delivered');
    // Already in the context: the next prompt adds nothing.
    expect(await hook(server.url)).toEqual({ code: 0, stdout: '', stderr: '' });
    // A server that is down must not block the prompt (exit 2 would).
    const down = await hook(`http://127.0.0.1:${await freePort()}`);
    expect(down.code).toBe(0);
    expect(down.stdout).toBe('');
    expect(down.stderr).toContain('Cannot reach Maestro Server');
  });
});
