import { describe, expect, it } from 'vitest';
import { listen, type ServerProcess, startServerProcess, testEnv } from './helpers.js';
import { freshDatabaseUrl, hasPostgres } from './postgres.js';

/**
 * Several instances on one database (§22.2), as real server processes: one global event order that every client of
 * every instance gets whole and in order, live and on replay; one claim winner across instances; an instance killed
 * mid-burst loses nothing it acknowledged, and the other keeps serving.
 */

const CLEAN = { HOST: '', MAESTRO_TOKEN: '', MAESTRO_ALLOW_INSECURE: '', DATABASE_TYPE: '' };

interface Instance extends ServerProcess {
  base: string;
  ws: string;
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  get(path: string): Promise<any>;
}

async function instance(url: string): Promise<Instance> {
  const p = await startServerProcess({ ...CLEAN, ...testEnv({ DATABASE_URL: url }), LOG_LEVEL: 'info' });
  const base = p.url.replace('//localhost:', '//127.0.0.1:');
  return {
    ...p,
    base,
    ws: `${base.replace(/^http/, 'ws')}/ws`,
    post: async (path, body) => {
      const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    },
    get: async (path) => (await fetch(base + path)).json(),
  };
}

const twoInstances = async () => {
  const url = await freshDatabaseUrl();
  // Started together: both migrate (one waits on the advisory lock) and both seed the default templates once.
  const [a, b] = await Promise.all([instance(url), instance(url)]);
  return { url, a, b };
};

const positions = (events: any[]) => events.map((e) => `${e.seq}:${e.type}:${e.data.id ?? e.data.taskId ?? ''}`);

describe.skipIf(!hasPostgres)('two instances on one PostgreSQL database', () => {
  it('concurrent writers on both: every client of either instance gets every seq once, in the same order, live and on replay', async () => {
    const { a, b } = await twoInstances();
    expect((await a.get('/api/templates')).length).toBe((await b.get('/api/templates')).length);
    const onA = await listen(a.ws);
    const onB = await listen(b.ws);
    const writes = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).post('/api/projects', { name: `p${i}` }));
    const answers = await Promise.all(writes);
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 201));
    const [liveA, liveB] = await Promise.all([onA.waitFor(40, 15_000), onB.waitFor(40, 15_000)]);
    expect(positions(liveA)).toEqual(positions(liveB));
    const seqs = liveA.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    expect(new Set(liveA.map((e) => e.data.id))).toEqual(new Set(answers.map((r) => r.body.id)));
    // A client that reconnects with `since` to either instance gets the same events.
    for (const base of [a.ws, b.ws]) {
      const replay = await listen(`${base}?since=0`);
      expect(positions((await replay.waitFor(40, 15_000)).slice(-40))).toEqual(positions(liveA));
      replay.close();
    }
    onA.close();
    onB.close();
  });

  it('claims of one task spread over both instances: exactly one winner, every other answer 409 TASK_CLAIMED', async () => {
    const { a, b } = await twoInstances();
    const onB = await listen(b.ws);
    const project = (await a.post('/api/projects', { name: 'Race' })).body.id;
    const task = (await a.post('/api/tasks', { projectId: project, title: 'Prize' })).body.id;
    const sessions = await Promise.all(
      Array.from({ length: 20 }, () => a.post('/api/sessions', { projectId: project, taskIds: [] }).then((r) => r.body.id as string)),
    );
    // B serves a change once its own reads show it: a client waits for the event there before using it there.
    await onB.waitFor(22, 15_000);
    const results = await Promise.all(sessions.map((sessionId, i) => (i % 2 ? a : b).post(`/api/tasks/${task}/claim`, { sessionId })));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.body.claim.sessionId;
    for (const r of results.filter((x) => x.status !== 200)) {
      expect([r.status, r.body.code, r.body.details?.sessionId]).toEqual([409, 'TASK_CLAIMED', winner]);
    }
    expect((await a.get(`/api/tasks/${task}`)).claim.sessionId).toBe(winner);
    onB.close();
  });

  it('kill -9 of one instance during a burst: everything it acknowledged is on the other, which keeps serving', async () => {
    const { a, b } = await twoInstances();
    const onB = await listen(b.ws);
    const acknowledged: string[] = [];
    let killed = false;
    const burst = Array.from({ length: 60 }, (_, i) =>
      a.post('/api/projects', { name: `burst ${i}` }).then(
        (r) => {
          if (r.status === 201) acknowledged.push(r.body.id);
          if (acknowledged.length >= 15 && !killed) {
            killed = true;
            a.proc.kill('SIGKILL');
          }
        },
        () => {},
      ),
    );
    await Promise.all(burst);
    await a.exited;
    expect(acknowledged.length).toBeGreaterThanOrEqual(15);
    // B follows the database (notification, or polling once A's connections are gone): every acknowledged project.
    await onB.waitFor(acknowledged.length, 15_000);
    const served = new Set((await b.get('/api/projects')).map((p: any) => p.id));
    for (const id of acknowledged) expect(served.has(id), id).toBe(true);
    const after = await b.post('/api/projects', { name: 'after the crash' });
    expect(after.status).toBe(201);
    const seqs = (await onB.drain()).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    onB.close();
  });
});
