import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../lib/http/app.js';
import { createLogger } from '../lib/log.js';
import { createServices, type Services } from '../lib/services.js';
import { fakeRunner } from './fake-runner.js';
import { appClient, startTestServer, testConfig, until } from './helpers.js';
import { freshDatabaseUrl, hasPostgres, openStore } from './postgres.js';

/**
 * Cluster-wide rules (§22.2) with two instances on one database, in-process with one injected clock: the message
 * rate limit holds across instances, and lease, deadline, receiver-ended and retention sweeps act once per due item
 * although both instances sweep (their timers run on the shared clock, and the test sweeps both at once as well).
 */

const T0 = 1_800_000_000_000;
const stops: Services[] = [];
afterAll(async () => {
  for (const services of stops) for (const stop of services.onClose) await stop();
});

async function instance(url: string, clock: { now: number }, env: Record<string, string>) {
  const services = await createServices(testConfig({ DATABASE_URL: url, ...env }), createLogger('error'), () => clock.now);
  stops.push(services);
  const { app } = await createApp(services);
  const { call, ok } = appClient(app);
  return { services, call, ok };
}
type Instance = Awaited<ReturnType<typeof instance>>;

async function twoInstances(env: Record<string, string> = {}) {
  const url = await freshDatabaseUrl();
  const clock = { now: T0 };
  const a = await instance(url, clock, env);
  const b = await instance(url, clock, env);
  const sql = openStore(url);
  /** Waits for every mutation each instance started, then until both have applied every commit in the database. */
  const settled = async () => {
    await Promise.all([a, b].map((i) => i.services.db.mutate(() => undefined)));
    for (let tries = 0; ; tries++) {
      const [head] = await sql<{ last_seq: number }[]>`SELECT last_seq FROM maestro_head`;
      if ([a, b].every((i) => i.services.db.events.latestSeq === Number(head!.last_seq))) return;
      if (tries > 500)
        throw new Error(
          `The instances did not catch up within 10 s: ${head!.last_seq} vs ${[a, b].map((i) => i.services.db.events.latestSeq)}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** The logged events of `type` (the database's log: what every client of every instance gets). */
  const logged = async (type: string) =>
    (await sql<{ line: string }[]>`SELECT line FROM maestro_events WHERE type = ${type} ORDER BY seq`).map((r) => JSON.parse(r.line));
  return { url, clock, a, b, sql, settled, logged };
}

const as = (id: string) => ({ 'x-session-id': id });
const send = (i: Instance, from: string | null, to: string, body: unknown) =>
  i.call('POST', `/api/sessions/${to}/messages`, body, from ? as(from) : {});

describe.skipIf(!hasPostgres)('cluster-wide rules on two instances', () => {
  it('a sender at its rate limit on A is refused on B; concurrent sends on both accept exactly the limit', async () => {
    const { clock, a, b, settled } = await twoInstances({ MAESTRO_MESSAGE_RATE: '3' });
    const project = await a.ok('POST', '/api/projects', { name: 'P' });
    for (const id of ['w1', 'w2', 'w3']) await a.ok('POST', '/api/sessions', { id, projectId: project.id, taskIds: [] });
    await settled();
    for (let i = 0; i < 3; i++) expect((await send(a, 'w1', 'w2', { message: `on A ${i}` })).status).toBe(201);
    clock.now += 10_000;
    const refused = await send(b, 'w1', 'w2', { message: 'on B' });
    expect([refused.status, refused.body.code, refused.body.details.retryAfterMs]).toEqual([429, 'RATE_LIMITED', 50_000]);
    expect(refused.headers.get('retry-after')).toBe('50');
    // The sender's window is the same on both: it opens again on B once the first send on A is a minute old.
    clock.now += 50_000;
    expect((await send(b, 'w1', 'w2', { message: 'a minute later, on B' })).status).toBe(201);
    // B's send counts on A: two more fit there, not three.
    const onA = [];
    for (let i = 0; i < 3; i++) onA.push((await send(a, 'w1', 'w2', { message: `on A again ${i}` })).status);
    expect(onA).toEqual([201, 201, 429]);

    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => send(i % 2 ? a : b, 'w3', 'w2', { message: `burst ${i}` })));
    expect(burst.map((r) => r.status).sort()).toEqual([201, 201, 201, ...Array(7).fill(429)]);
    await settled();
    const sent = await b.ok('GET', '/api/sessions/w3/messages?box=sent');
    expect(sent).toHaveLength(3);
  });

  it('the next request on B sees what A just answered: a project, a token created, a token revoked', async () => {
    const { a, b } = await twoInstances();
    const seen = [];
    for (let i = 0; i < 10; i++) {
      const project = await a.ok('POST', '/api/projects', { name: `P${i}` });
      const task = await b.call('POST', '/api/tasks', { projectId: project.id, title: 'on B' });
      const person = await a.ok('POST', '/api/tokens', { name: `person ${i}`, role: 'member' });
      const bearer = { authorization: `Bearer ${person.token}` };
      const created = await b.call('GET', `/api/projects/${project.id}`, undefined, bearer);
      expect((await a.call('DELETE', `/api/tokens/${person.id}`)).status).toBe(204);
      const revoked = await b.call('GET', '/api/projects', undefined, bearer);
      seen.push([task.status, created.status, revoked.status]);
    }
    expect(seen).toEqual(seen.map(() => [201, 200, 401]));
  });

  it('an instance that starts while another writes serves what the other serves, in the same order', async () => {
    const url = await freshDatabaseUrl();
    const clock = { now: T0 };
    const b = await instance(url, clock, {});
    const project = await b.ok('POST', '/api/projects', { name: 'P' });
    // Each round creates a task and renames the one before: each task changes once, so nothing heals a stale copy.
    let writing = true;
    const writer = (async () => {
      let previous = await b.ok('POST', '/api/tasks', { projectId: project.id, title: 'new' });
      for (let n = 0; writing; n++) {
        [, previous] = await Promise.all([
          b.ok('PATCH', `/api/tasks/${previous.id}`, { title: `renamed ${n}` }),
          b.ok('POST', '/api/tasks', { projectId: project.id, title: 'new' }),
        ]);
      }
    })();
    // Instances that start (load, then follow B's commits) while B commits all along.
    const started = [];
    for (let i = 0; i < 3; i++) started.push(await instance(url, clock, {}));
    writing = false;
    await writer;
    const onB: { id: string }[] = await b.ok('GET', '/api/tasks');
    const byId = (tasks: { id: string }[]) => Object.fromEntries(tasks.map((t) => [t.id, t]));
    for (const a of started) {
      const onA = await a.ok('GET', '/api/tasks');
      // The same tasks in the same state (none left as it was when the instance loaded), and in storage order.
      expect(byId(onA)).toEqual(byId(onB));
      expect(onA.map((t: { id: string }) => t.id)).toEqual(onB.map((t) => t.id));
    }
  });

  it('a runner-managed agent is woken once per 30 s, whichever instance its messages were sent through', async () => {
    const url = await freshDatabaseUrl();
    const a = await startTestServer({ DATABASE_URL: url, MAESTRO_LOCAL_RUNNER: '0' });
    const b = await startTestServer({ DATABASE_URL: url, MAESTRO_LOCAL_RUNNER: '0' });
    const runner = await fakeRunner(a.url);
    const typed: string[] = [];
    runner.ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'notice' || frame.type === 'input') {
        typed.push(frame.type);
        runner.send({ type: 'reply', id: frame.id, ok: true });
      }
    });
    runner.hello();
    await runner.next('welcome');
    const project = (await a.call('POST', '/api/projects', { name: 'P', workingDir: '/tmp' })).body;
    const task = (await a.call('POST', '/api/tasks', { projectId: project.id, title: 'Work' })).body;
    const spawn = { projectId: project.id, taskIds: [task.id], host: 'fleet', agent: 'claude' };
    const { sessionId } = (await b.call('POST', '/api/sessions/spawn', spawn)).body;
    await runner.next('launch');
    runner.send({ type: 'started', sessionId, pid: 4242 });
    await until(b.call, `/api/sessions/${sessionId}`, (s) => s.run?.state === 'running', { ms: 10_000 });

    const first = (await a.call('POST', `/api/sessions/${sessionId}/messages`, { message: 'one' })).body;
    await until(a.call, `/api/messages/${first.id}`, (m) => m.status === 'delivered', { ms: 10_000 });
    const second = (await b.call('POST', `/api/sessions/${sessionId}/messages`, { message: 'two' })).body;
    // Typed through B after the second message: a notice for it would have reached the runner first.
    expect((await b.call('POST', `/api/sessions/${sessionId}/input`, { text: 'go on' })).status).toBe(200);
    expect(typed).toEqual(['notice', 'input']);
    expect((await b.call('GET', `/api/messages/${second.id}`)).body.status).toBe('pending');
  });

  it('an expired lease is released once, with both instances sweeping', async () => {
    const { clock, a, b, settled, logged } = await twoInstances();
    const project = await a.ok('POST', '/api/projects', { name: 'P' });
    const task = await a.ok('POST', '/api/tasks', { projectId: project.id, title: 'Leased' });
    await a.ok('POST', '/api/sessions', { id: 'holder', projectId: project.id, taskIds: [] });
    await a.ok('POST', `/api/tasks/${task.id}/claim`, { sessionId: 'holder', leaseMs: 60_000 });
    await settled();
    const timeline = (await b.ok('GET', '/api/sessions/holder')).timeline;
    clock.now += 60_001;
    const released = await Promise.all([a.services.claims.sweep(), b.services.claims.sweep(), a.services.claims.sweep()]);
    await settled();
    // Whichever instance (or timer) won, the claim was released once in all.
    expect(released.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(1);
    const releases = await logged('task:claim_released');
    expect(releases.map((e) => e.data)).toEqual([{ taskId: task.id, sessionId: 'holder', reason: 'expired' }]);
    const updates = (await logged('task:updated')).filter((e) => e.data.id === task.id && e.timestamp === clock.now);
    expect(updates.map((e) => e.data.status)).toEqual(['todo']);
    for (const i of [a, b]) {
      const served = await i.ok('GET', `/api/tasks/${task.id}`);
      expect([served.status, served.claim]).toEqual(['todo', undefined]);
      expect((await i.ok('GET', '/api/sessions/holder')).timeline).toEqual(timeline);
    }
  });

  it('a message past its deadline expires once, and a receiver that ends fails its messages and claims once', async () => {
    const { clock, a, b, settled, logged } = await twoInstances();
    const project = await a.ok('POST', '/api/projects', { name: 'P' });
    const task = await a.ok('POST', '/api/tasks', { projectId: project.id, title: 'Held' });
    for (const id of ['w1', 'w2']) await a.ok('POST', '/api/sessions', { id, projectId: project.id, taskIds: [] });
    const deadline = await a.ok('POST', '/api/sessions/w1/messages', { message: 'soon', expiresInMs: 1000 });
    const waiting = await a.ok('POST', '/api/sessions/w2/messages', { message: 'never read' });
    await a.ok('POST', `/api/tasks/${task.id}/claim`, { sessionId: 'w2' });
    await settled();
    clock.now += 1001;
    await Promise.all([a.services.messages.sweep(), b.services.messages.sweep()]);
    await settled();
    expect((await logged('message:expired')).map((e) => e.data.id)).toEqual([deadline.id]);
    expect((await b.ok('GET', `/api/messages/${deadline.id}`)).status).toBe('expired');

    // Both instances apply the session's end and both start its follow-ups: one failure, one release.
    await b.ok('PATCH', '/api/sessions/w2', { status: 'completed' });
    await settled();
    await settled();
    expect((await logged('message:failed')).map((e) => [e.data.id, e.data.failReason])).toEqual([
      [waiting.id, 'receiver ended before delivery'],
    ]);
    expect((await logged('task:claim_released')).map((e) => e.data)).toEqual([
      { taskId: task.id, sessionId: 'w2', reason: 'session_ended' },
    ]);
    expect((await a.ok('GET', `/api/messages/${waiting.id}`)).status).toBe('failed');
  });

  it('retention deletes each old message once, whichever instance runs it', async () => {
    const { clock, a, b, sql, settled } = await twoInstances();
    const project = await a.ok('POST', '/api/projects', { name: 'P' });
    await a.ok('POST', '/api/sessions', { id: 'w1', projectId: project.id, taskIds: [] });
    const old = await Promise.all([1, 2, 3].map((n) => a.ok('POST', '/api/sessions/w1/messages', { message: `old ${n}` })));
    await settled();
    clock.now += 8 * 86_400_000;
    const [onA, onB] = await Promise.all([a.services.messages.retain(), b.services.messages.retain()]);
    await settled();
    expect(onA + onB).toBe(3);
    // One commit removed them: the other instance's retention found nothing left to remove.
    const commits = await sql<{ changes: string }[]>`SELECT changes::text AS changes FROM maestro_commits ORDER BY no`;
    for (const m of old) expect(commits.filter((c) => c.changes.includes(m.id)).length, m.id).toBe(2);
    for (const i of [a, b]) expect(await i.ok('GET', '/api/sessions/w1/messages')).toEqual([]);
  });
});
