import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Listener, listen, type ServerProcess, startServerProcess, testEnv } from './helpers.js';

/**
 * Concurrency (contract §1.7, §2.8): mutations are applied one at a time, so concurrent requests never lose a
 * field, every broadcast carries the state right after its own mutation, and the task↔session mirror stays exact.
 * The server is the compiled bin on port 0, driven over loopback.
 */

interface Reply {
  status: number;
  text: string;
  body: any;
}

let env: Record<string, string>;
let server: ServerProcess & { base: string };

async function boot() {
  const proc = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
  return { ...proc, base: proc.url.replace('//localhost:', '//127.0.0.1:') };
}

async function stop() {
  server.proc.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

async function call(method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(server.base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

async function ok(method: string, path: string, body?: unknown, status = 200) {
  const res = await call(method, path, body);
  expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
  return res.body;
}
const create = (path: string, body: unknown) => ok('POST', path, body, 201);

const stored = (...parts: string[]) => JSON.parse(readFileSync(join(env.DATA_DIR!, ...parts), 'utf8'));
const withoutCount = ({ sessionCount: _derived, blockedBy: _blocked, ready: _ready, ...task }: Record<string, unknown>) => task;

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls `done` until it holds, for at most `ms`. */
async function until(done: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function openListener(): Promise<Listener> {
  return listen(`${server.base.replace(/^http/, 'ws')}/ws`);
}

beforeAll(async () => {
  env = testEnv();
  server = await boot();
});

describe('concurrent PATCHes of one task', () => {
  it('loses no field: the final state holds, per field, the value of the last PATCH applied', async () => {
    const project = await create('/api/projects', { name: 'Concurrency' });
    const task = await create('/api/tasks', { projectId: project.id, title: 'Contended' });
    const socket = await openListener();

    const STATUSES = ['in_progress', 'blocked', 'completed', 'cancelled', 'todo'];
    const PRIORITIES = ['low', 'high', 'medium'];
    const SESSION_STATUSES = ['queued', 'working', 'needs_input', 'blocked', 'completed', 'failed', 'skipped'];
    const patchOf = (i: number): [field: string, value: unknown] => {
      switch (i % 7) {
        case 0:
          return ['title', `title ${i}`];
        case 1:
          return ['description', `description ${i}`];
        case 2:
          return ['status', STATUSES[i % STATUSES.length]];
        case 3:
          return ['priority', PRIORITIES[i % PRIORITIES.length]];
        case 4:
          return ['sessionStatus', SESSION_STATUSES[i % SESSION_STATUSES.length]];
        case 5:
          return ['skillIds', [`skill-${i}`, 'shared']];
        default:
          return ['agentIds', [`agent-${i}`]];
      }
    };
    const N = 50;
    const patches = Array.from({ length: N }, (_, i) => patchOf(i));
    const replies = await Promise.all(patches.map(([field, value]) => call('PATCH', `/api/tasks/${task.id}`, { [field]: value })));
    replies.forEach((r, i) => expect(r.status, `PATCH #${i}: ${r.text}`).toBe(200));

    // One task:updated per PATCH, in application order; each carries the state right after its PATCH.
    const events = (await socket.waitFor(N, 5000)).filter((e) => e.type === 'task:updated');
    expect(events).toHaveLength(N);
    const states = events.map((e) => e.data);
    // Match each reply to the event that carries its state, which gives the order the PATCHes were applied in.
    const used = new Set<number>();
    const position = replies.map((r, i) => {
      const k = states.findIndex((s, j) => !used.has(j) && JSON.stringify(s) === JSON.stringify(r.body));
      expect(k, `reply of PATCH #${i} is one of the broadcast states`).toBeGreaterThanOrEqual(0);
      used.add(k);
      return k;
    });
    const applied = patches
      .map((p, i) => ({ p, at: position[i]! }))
      .sort((a, b) => a.at - b.at)
      .map((x) => x.p);

    // Each state differs from the one before only in the field its PATCH set (plus the timestamps it moves).
    const FIELDS = ['title', 'description', 'status', 'priority', 'sessionStatus', 'skillIds', 'agentIds'];
    let previous: any = task;
    applied.forEach(([field, value], k) => {
      const state = states[k];
      expect(state[field], `state #${k}`).toEqual(value);
      for (const other of FIELDS.filter((f) => f !== field)) expect(state[other], `state #${k}, ${other}`).toEqual(previous[other]);
      expect(state.updatedAt).toBeGreaterThanOrEqual(previous.updatedAt);
      previous = state;
    });

    const expected: Record<string, unknown> = {};
    for (const [field, value] of applied) expected[field] = value;
    const final = await ok('GET', `/api/tasks/${task.id}`);
    expect(final).toMatchObject(expected);
    expect(final).toEqual(states.at(-1));
    expect(final.startedAt).toEqual(expect.any(Number)); // some PATCH set in_progress
    expect(final.completedAt).toEqual(expect.any(Number)); // some PATCH set completed
    expect(stored('tasks', project.id, `${task.id}.json`)).toEqual(withoutCount(final));
    socket.close();
  });

  it('keeps every append to one session: events, timeline entries and env keys', async () => {
    const project = await create('/api/projects', { name: 'Appends' });
    const session = await create('/api/sessions', { projectId: project.id, taskIds: [] });
    const socket = await openListener();

    const N = 60;
    const ops = Array.from({ length: N }, (_, i) => {
      switch (i % 4) {
        case 0:
          return call('POST', `/api/sessions/${session.id}/events`, { type: `event-${i}`, data: { i } });
        case 1:
          return call('POST', `/api/sessions/${session.id}/timeline`, { message: `entry ${i}`, type: 'progress' });
        case 2:
          return call('PATCH', `/api/sessions/${session.id}`, { env: { [`KEY_${i}`]: `${i}` }, events: [{ type: `event-${i}` }] });
        default:
          return call('PATCH', `/api/sessions/${session.id}`, { timeline: [{ message: `entry ${i}` }], env: { [`KEY_${i}`]: `${i}` } });
      }
    });
    const replies = await Promise.all(ops);
    replies.forEach((r, i) => expect(r.status, `op #${i}: ${r.text}`).toBe(200));

    const final = await ok('GET', `/api/sessions/${session.id}`);
    const eventTypes = final.events.map((e: any) => e.type);
    const messages = final.timeline.slice(1).map((t: any) => t.message);
    const expect_ = (kind: number[], make: (i: number) => string) =>
      Array.from({ length: N }, (_, i) => i)
        .filter((i) => kind.includes(i % 4))
        .map(make)
        .sort();
    expect([...eventTypes].sort()).toEqual(expect_([0, 2], (i) => `event-${i}`));
    expect([...messages].sort()).toEqual(expect_([1, 3], (i) => `entry ${i}`));
    expect(Object.keys(final.env).sort()).toEqual(expect_([2, 3], (i) => `KEY_${i}`));
    expect(new Set(final.events.map((e: any) => e.id)).size).toBe(final.events.length);

    // Each broadcast state extends the one before it: arrays only ever grow by appending.
    const states = (await socket.waitFor(N, 5000)).filter((e) => e.type === 'session:updated').map((e) => e.data);
    expect(states).toHaveLength(N);
    for (let k = 1; k < N; k++) {
      expect(states[k].events.slice(0, states[k - 1].events.length)).toEqual(states[k - 1].events);
      expect(states[k].timeline.slice(0, states[k - 1].timeline.length)).toEqual(states[k - 1].timeline);
      expect(states[k].events.length + states[k].timeline.length).toBe(states[k - 1].events.length + states[k - 1].timeline.length + 1);
    }
    expect(states.at(-1)).toEqual(final);
    expect(stored('sessions', `${session.id}.json`)).toEqual(final);
    socket.close();
  });
});

describe('concurrent link and unlink operations', () => {
  it('keep the task↔session mirror exact, in memory, on disk and after a restart', async () => {
    const project = await create('/api/projects', { name: 'Mirror' });
    const tasks: string[] = [];
    for (let i = 0; i < 6; i++) tasks.push((await create('/api/tasks', { projectId: project.id, title: `T${i}` })).id);
    const sessions: string[] = [];
    for (let i = 0; i < 4; i++) {
      sessions.push((await create('/api/sessions', { projectId: project.id, taskIds: i % 2 ? [tasks[i]!] : [] })).id);
    }
    const socket = await openListener();

    const rand = random(20240601);
    const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)]!;
    const subset = <T>(list: T[]) => list.filter(() => rand() < 0.4);
    const ops = Array.from({ length: 120 }, () => {
      const r = rand();
      const [sid, tid] = [pick(sessions), pick(tasks)];
      if (r < 0.35) return ['POST', `/api/sessions/${sid}/tasks/${tid}`] as const;
      if (r < 0.65) return ['DELETE', `/api/sessions/${sid}/tasks/${tid}`] as const;
      if (r < 0.82) return ['PATCH', `/api/sessions/${sid}`, { taskIds: subset(tasks) }] as const;
      return ['PATCH', `/api/tasks/${tid}`, { sessionIds: subset(sessions) }] as const;
    });
    const replies = await Promise.all(ops.map(([method, path, body]) => call(method, path, body)));
    replies.forEach((r, i) => expect(r.status, `${ops[i]!.join(' ')}: ${r.text}`).toBe(200));

    const snapshot = async () => {
      const s = await Promise.all(sessions.map((id) => ok('GET', `/api/sessions/${id}`)));
      const t = await Promise.all(tasks.map((id) => ok('GET', `/api/tasks/${id}`)));
      return { sessions: s, tasks: t };
    };
    const expectMirror = ({ sessions: ss, tasks: ts }: Awaited<ReturnType<typeof snapshot>>) => {
      let links = 0;
      for (const s of ss) {
        expect(new Set(s.taskIds).size, `duplicates in ${s.id}.taskIds`).toBe(s.taskIds.length);
        for (const t of ts) {
          const [a, b] = [s.taskIds.includes(t.id), t.sessionIds.includes(s.id)];
          expect(a, `${t.id} ∈ ${s.id}.taskIds ⇔ ${s.id} ∈ ${t.id}.sessionIds`).toBe(b);
          if (a) links++;
        }
      }
      for (const t of ts) {
        expect(new Set(t.sessionIds).size, `duplicates in ${t.id}.sessionIds`).toBe(t.sessionIds.length);
        expect(t.sessionCount).toBe(t.sessionIds.length);
      }
      return links;
    };

    const live = await snapshot();
    const links = expectMirror(live);
    // The random mix ends with some links and some gaps, or the check above proves little.
    expect(links).toBeGreaterThan(0);
    expect(links).toBeLessThan(sessions.length * tasks.length);

    // The files on disk are what is served, and the last broadcast of each entity is its final state.
    for (const s of live.sessions) expect(stored('sessions', `${s.id}.json`)).toEqual(s);
    for (const t of live.tasks) expect(stored('tasks', project.id, `${t.id}.json`)).toEqual(withoutCount(t));
    // Events arrive in emission order on one connection: once a later marker event is in, every earlier one is.
    const marker = await create('/api/projects', { name: 'marker' });
    await until(() => socket.events().some((e) => e.type === 'project:created' && e.data.id === marker.id));
    const last = new Map<string, any>();
    for (const e of socket.events()) if (e.type === 'session:updated' || e.type === 'task:updated') last.set(e.data.id, e.data);
    for (const entity of [...live.sessions, ...live.tasks]) {
      if (last.has(entity.id)) expect(last.get(entity.id), entity.id).toEqual(entity);
    }
    expect(last.size).toBeGreaterThan(0);
    socket.close();

    await stop();
    server = await boot();
    const restarted = await snapshot();
    expect(restarted).toEqual(live);
    expectMirror(restarted);
  });
});
