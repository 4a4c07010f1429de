import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Call, listen, startTestServer, tempDir } from './helpers.js';

/** Who did it (contract §23): the actor of each kind on event envelopes and timeline entries, logged and replayed unchanged. */

const ADMIN = 'admin-token-for-actors';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('actors (§23)', async () => {
  const dataDir = tempDir();
  const server = await startTestServer({ MAESTRO_TOKEN: ADMIN, DATA_DIR: dataDir });
  const as =
    (token: string): Call =>
    (method, path, body, headers = {}) =>
      server.call(method, path, body, { ...bearer(token), ...headers });
  const admin = as(ADMIN);
  const wsBase = server.url.replace(/^http/, 'ws');
  const live = await listen(`${wsBase}/ws?token=${ADMIN}`);
  const alice = (await admin('POST', '/api/tokens', { name: 'Alice', role: 'member' })).body;
  const project = (await admin('POST', '/api/projects', { name: 'Actors', workingDir: tempDir() })).body;
  const session = (await admin('POST', '/api/sessions', { projectId: project.id, taskIds: [], name: 'builder' })).body;
  await live.drain();
  /** Every event until one of `type` has arrived (a follow-up batch comes after the request's answer). */
  const through = async (type: string) => {
    const seen: any[] = [];
    for (let n = 1; !seen.some((e) => e.type === type); n++) seen.splice(0, seen.length, ...(await live.waitFor(n)));
    live.clear();
    return seen;
  };

  it('admin, user and session actors on the events and timeline entries of their requests', async () => {
    await admin('PUT', `/api/projects/${project.id}`, { description: 'by the admin' });
    expect((await live.drain()).map((e) => [e.type, e.actor])).toEqual([['project:updated', { kind: 'admin' }]]);

    const task = (await as(alice.token)('POST', '/api/tasks', { projectId: project.id, title: 'By Alice' })).body;
    const byAlice = await live.drain();
    expect(byAlice.map((e) => e.type)).toContain('task:created');
    for (const event of byAlice) expect(event.actor).toEqual({ kind: 'user', id: alice.id, name: 'Alice' });

    const entry = await as(alice.token)('POST', `/api/sessions/${session.id}/timeline`, { type: 'progress', message: 'Alice was here' });
    expect(entry.status).toBe(200);
    expect(entry.body.timeline.at(-1)).toMatchObject({ message: 'Alice was here', actor: { kind: 'user', id: alice.id, name: 'Alice' } });
    await live.drain();

    // An agent's client names its session with X-Session-ID: its changes are the session's.
    const reported = await admin(
      'POST',
      `/api/tasks/${task.id}/timeline`,
      { sessionId: session.id, message: 'half done', type: 'progress' },
      { 'x-session-id': session.id },
    );
    expect(reported.status).toBe(200);
    const sessionActor = { kind: 'session', id: session.id, name: 'builder' };
    expect((await admin('GET', `/api/sessions/${session.id}`)).body.timeline.at(-1)).toMatchObject({
      message: 'half done',
      actor: sessionActor,
    });
    const events = await live.drain();
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.actor).toEqual(sessionActor);
    // A client cannot write its own actor.
    const forged = await admin('POST', `/api/sessions/${session.id}/timeline`, {
      type: 'progress',
      message: 'forged',
      actor: { kind: 'system' },
    });
    expect(forged.body.timeline.at(-1).actor).toEqual({ kind: 'admin' });
    await live.drain();
  });

  it('timeline entries added by PATCH /api/sessions/:id carry the actor too, never one the client wrote', async () => {
    const patched = await as(alice.token)('PATCH', `/api/sessions/${session.id}`, {
      timeline: [
        { type: 'milestone', message: 'patched in' },
        { type: 'progress', message: 'forged', actor: { kind: 'system' } },
      ],
    });
    expect(patched.status).toBe(200);
    const aliceActor = { kind: 'user', id: alice.id, name: 'Alice' };
    expect(patched.body.timeline.slice(-2)).toEqual([
      expect.objectContaining({ message: 'patched in', actor: aliceActor }),
      expect.objectContaining({ message: 'forged', actor: aliceActor }),
    ]);
    const [updated] = await live.drain();
    expect(updated).toMatchObject({ type: 'session:updated', actor: aliceActor });
    expect(updated.data.timeline.at(-1).actor).toEqual(aliceActor);
    expect((await admin('GET', `/api/sessions/${session.id}`)).body.timeline.at(-2).actor).toEqual(aliceActor);
  });

  it('system for what the server does by itself: a claim released when its session ends', async () => {
    const task = (await admin('POST', '/api/tasks', { projectId: project.id, title: 'Claimed' })).body;
    const worker = (await admin('POST', '/api/sessions', { projectId: project.id, taskIds: [], name: 'worker' })).body;
    expect((await admin('POST', `/api/tasks/${task.id}/claim`, { sessionId: worker.id })).status).toBe(200);
    await live.drain();
    await admin('PATCH', `/api/sessions/${worker.id}`, { status: 'completed' });
    // The release follows the session's update in a batch of its own.
    const events = await through('task:claim_released');
    expect(events.find((e) => e.type === 'session:updated')?.actor).toEqual({ kind: 'admin' });
    expect(events.find((e) => e.type === 'task:claim_released')?.actor).toEqual({ kind: 'system' });
    expect(events.find((e) => e.type === 'task:updated')?.actor).toEqual({ kind: 'system' });
  });

  it("runner for a runner's reports, whichever token it connected with", async () => {
    const runner = new WebSocket(`${wsBase}/api/hosts/connect?token=${ADMIN}`);
    await new Promise((r, j) => runner.once('open', r).once('error', j));
    runner.send(
      JSON.stringify({
        type: 'hello',
        name: 'box-1',
        hostname: 'box',
        platform: 'linux',
        arch: 'x64',
        version: '0',
        agents: ['shell'],
        sessions: [],
      }),
    );
    const online = (await through('host:online')).at(-1);
    expect(online).toMatchObject({ type: 'host:online', actor: { kind: 'runner', name: 'box-1' } });
    const closed = new Promise((r) => runner.once('close', r));
    runner.close();
    await closed;
    const offline = (await through('host:offline')).at(-1);
    expect(offline).toMatchObject({ type: 'host:offline', actor: { kind: 'runner', name: 'box-1' } });
  });

  it('the log keeps each actor: a replay, GET /api/events and a restart give them back unchanged', async () => {
    const replay = await listen(`${wsBase}/ws?token=${ADMIN}&since=0`);
    const replayed = await replay.drain();
    const kinds = new Set(replayed.map((e) => e.actor?.kind));
    expect([...kinds].sort()).toEqual(['admin', 'runner', 'session', 'system', 'user']);
    const logged = (await admin('GET', '/api/events?since=0&limit=1000')).body.events;
    expect(logged.map((e: any) => [e.seq, e.actor])).toEqual(replayed.map((e) => [e.seq, e.actor]));
    replay.close();
    live.close();
    await server.close();
    const again = await startTestServer({ MAESTRO_TOKEN: ADMIN, DATA_DIR: dataDir });
    const after = (await again.call('GET', '/api/events?since=0&limit=1000', undefined, bearer(ADMIN))).body.events;
    expect(after.slice(0, logged.length).map((e: any) => [e.seq, e.actor])).toEqual(logged.map((e: any) => [e.seq, e.actor]));
  });
});
