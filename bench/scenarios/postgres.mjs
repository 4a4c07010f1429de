// PostgreSQL and two instances (§22.2): durable POST and PATCH at 10 connections per instance on two instances,
// beside the file engine's one server at 10 connections; a replay of 100,000 events over a WebSocket (connect with
// since=0 → last event); how long an event takes from a PATCH on instance A to a client of instance B; and how soon
// both instances write and hear each other again after the database was gone for a few seconds.
// The cluster is a throwaway one on loopback (bench/lib/pg-cluster.mjs), with durability on, removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { call, httpLoad, median, quantile, startMaestro } from '../lib/harness.mjs';
import { startCluster } from '../lib/pg-cluster.mjs';

export const name = 'postgres';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** POST and PATCH at 10 connections on each server at once: summed writes/s and the worst p99. */
async function writes(servers, seconds) {
  const targets = [];
  for (const s of servers) {
    const project = await call(s.url, 'POST', '/api/projects', { name: 'Bench' });
    const task = await call(s.url, 'POST', '/api/tasks', { projectId: project.id, title: 'Bench' });
    targets.push({ url: s.url, project: project.id, task: task.id });
  }
  // Another instance serves a change once it applied it: wait until every server sees every target task.
  for (const s of servers) for (const t of targets) await until(() => fetch(`${s.url}/api/tasks/${t.task}`).then((r) => r.ok));
  const load = (method) =>
    Promise.all(
      targets.map((t) =>
        httpLoad(t.url, {
          method,
          path: method === 'PATCH' ? `/api/tasks/${t.task}` : '/api/tasks',
          connections: 10,
          seconds,
          next: (i) => (method === 'PATCH' ? { description: `step ${i}` } : { projectId: t.project, title: `Task ${i}` }),
        }),
      ),
    ).then((results) => ({
      rps: results.reduce((sum, r) => sum + r.rps, 0),
      p99: Math.max(...results.map((r) => r.p99)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
    }));
  return { post: await load('POST'), patch: await load('PATCH') };
}

async function until(check, ms = 15_000) {
  for (const deadline = performance.now() + ms; performance.now() < deadline; await sleep(20)) if (await check()) return;
  throw new Error('timed out waiting for the other instance');
}

/** Opens a socket and resolves with the milliseconds from the start of the connect until an event with `lastSeq`. */
function replay(wsUrl, lastSeq) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let count = 0;
    const ws = new WebSocket(`${wsUrl}?since=0`, { perMessageDeflate: false });
    ws.on('message', (data) => {
      count++;
      const seq = Number(/"seq":(\d+)/.exec(data.toString())?.[1]);
      if (seq >= lastSeq) {
        resolve({ ms: performance.now() - t0, count });
        ws.terminate();
      }
    });
    ws.on('error', reject);
    ws.on('close', () => reject(new Error(`socket closed after ${count} events`)));
  });
}

/** PATCHes on A at `rate`/s for `seconds`, each with a marker; latency until a client of B has its event (ms). */
async function crossLatency(a, b, seconds, rate = 20) {
  const project = await call(a.url, 'POST', '/api/projects', { name: 'Latency' });
  const task = await call(a.url, 'POST', '/api/tasks', { projectId: project.id, title: 'Latency' });
  const sent = new Map();
  const latencies = [];
  const ws = new WebSocket(`${b.url.replace('http', 'ws')}/ws`, { perMessageDeflate: false });
  ws.on('message', (data) => {
    const k = /mark-(\d+)/.exec(data.toString())?.[1];
    if (k !== undefined && sent.has(k)) latencies.push(performance.now() - sent.get(k));
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await until(() => fetch(`${b.url}/api/tasks/${task.id}`).then((r) => r.ok));
  const total = Math.round(seconds * rate);
  const t0 = performance.now();
  const answers = [];
  for (let k = 0; k < total; k++) {
    const wait = t0 + (k * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    sent.set(String(k), performance.now());
    answers.push(call(a.url, 'PATCH', `/api/tasks/${task.id}`, { description: `mark-${k}` }));
  }
  await Promise.all(answers);
  await until(() => latencies.length >= total, 5000).catch(() => {});
  ws.terminate();
  latencies.sort((x, y) => x - y);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), complete: latencies.length, total };
}

/** The PostgreSQL client of the checkout under test (an ES module since its version 4, its default export). */
function client(root) {
  const module = createRequire(join(root, 'package.json'))('postgres');
  return module.default ?? module;
}

/**
 * The floor of the A → B latency: one connection commits a small row with a NOTIFY, another LISTENs; the time from
 * the start of the commit to the notification, at the same pace. Maestro adds HTTP, its reads after the notice and
 * the WebSocket to this.
 */
async function notifyFloor(root, url, seconds, rate = 20) {
  const postgres = client(root);
  const writer = postgres(url, { onnotice: () => {}, max: 1 });
  const listener = postgres(url, { onnotice: () => {}, max: 1 });
  try {
    await writer`CREATE TABLE IF NOT EXISTS bench_floor (k int, body text)`;
    const sent = new Map();
    const latencies = [];
    await listener.listen('bench_floor', (k) => latencies.push(performance.now() - sent.get(k)));
    const total = Math.round(seconds * rate);
    const t0 = performance.now();
    for (let k = 0; k < total; k++) {
      const wait = t0 + (k * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      sent.set(String(k), performance.now());
      await writer.begin(async (tx) => {
        await tx`INSERT INTO bench_floor VALUES (${k}, ${'x'.repeat(600)})`;
        await tx`SELECT pg_notify('bench_floor', ${String(k)})`;
      });
    }
    await until(() => latencies.length >= total, 5000).catch(() => {});
    latencies.sort((x, y) => x - y);
    return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
  } finally {
    await writer.end({ timeout: 1 });
    await listener.end({ timeout: 1 });
  }
}

/**
 * The database refuses connections and drops every one of the instances' for `seconds`, then answers again: how long
 * until a write on A is accepted, and until a change on A reaches a client of B within 100 ms again (the listening
 * connection back; until then the 1 s poll carries it). The outage is set from another database of the cluster.
 */
async function outage(root, clusterUrl, a, b, seconds) {
  const admin = client(root)(clusterUrl.replace(/\/postgres$/, '/template1'), { onnotice: () => {}, max: 1 });
  const seen = new Map();
  const ws = new WebSocket(`${b.url.replace('http', 'ws')}/ws`, { perMessageDeflate: false });
  ws.on('message', (data) => {
    const name = /"name":"(outage-\d+)"/.exec(data.toString())?.[1];
    if (name && !seen.has(name)) seen.set(name, performance.now());
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  try {
    await admin`ALTER DATABASE postgres ALLOW_CONNECTIONS false`;
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'postgres'`;
    await sleep(seconds * 1000);
    await admin`ALTER DATABASE postgres ALLOW_CONNECTIONS true`;
    const back = performance.now();
    let write;
    let heard;
    for (let i = 0; performance.now() - back < 60_000 && heard === undefined; i++) {
      const started = performance.now();
      const res = await fetch(`${a.url}/api/projects`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `outage-${i}` }),
      }).catch(() => undefined);
      if (res?.status === 201) {
        write ??= started - back;
        await until(() => seen.has(`outage-${i}`), 1500).catch(() => {});
        if (seen.get(`outage-${i}`) - started < 100) heard = started - back;
      }
      await sleep(100);
    }
    return { write, heard };
  } finally {
    await admin`ALTER DATABASE postgres ALLOW_CONNECTIONS true`.catch(() => {});
    await admin.end({ timeout: 1 });
    ws.terminate();
  }
}

/** Fills the log up to `count` events with copies of the newest one (renumbered): replay volume without 100k writes. */
async function fillLog(root, url, count) {
  const postgres = client(root);
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  try {
    const [head] = await sql`SELECT last_seq::int AS last FROM maestro_head`;
    if (head.last < count) {
      await sql`INSERT INTO maestro_events (seq, type, project_id, sessions, line)
        SELECT g, e.type, e.project_id, e.sessions, regexp_replace(e.line, '"seq":\\d+', '"seq":' || g)
        FROM (SELECT * FROM maestro_events ORDER BY seq DESC LIMIT 1) e, generate_series(${head.last + 1}::int, ${count}::int) g`;
      await sql`UPDATE maestro_head SET last_seq = ${count}`;
    }
    return Math.max(head.last, count);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function run({ root, quick, rounds }) {
  const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-pg-'));
  const seconds = quick ? 1.5 : 3;
  const events = quick ? 20_000 : 100_000;
  const servers = [];
  let cluster;
  const start = async (env) => {
    const s = await startMaestro(root, mkdtempSync(join(dir, 'server-')), env);
    servers.push(s);
    return s;
  };
  const stopAll = async () => {
    for (const s of servers.splice(0)) await s.stop();
  };
  try {
    const m = { file: [], pg: [], replay: [], latency: [], floor: [] };
    for (let r = 0; r < rounds; r++) {
      m.file.push(await writes([await start({})], seconds));
      await stopAll();
    }
    cluster = await startCluster({ prefix: 'maestro-bench-pg-' });
    const env = { DATABASE_URL: cluster.url };
    const [a, b] = await Promise.all([start(env), start(env)]);
    for (let r = 0; r < rounds; r++) m.pg.push(await writes([a, b], seconds));
    for (let r = 0; r < rounds; r++) {
      m.latency.push(await crossLatency(a, b, quick ? 3 : 5));
      m.floor.push(await notifyFloor(root, cluster.url, quick ? 3 : 5));
    }
    const outageSeconds = quick ? 3 : 8;
    const recovery = await outage(root, cluster.url, a, b, outageSeconds);
    await stopAll();
    const lastSeq = await fillLog(root, cluster.url, events);
    const b2 = await start(env);
    const wsUrl = `${b2.url.replace('http', 'ws')}/ws`;
    for (let r = 0; r < rounds; r++) m.replay.push(await replay(wsUrl, lastSeq));
    await stopAll();

    const pick = (list, key, field) => median(list.map((x) => x[key][field]));
    const lost = m.latency.reduce((sum, x) => sum + x.total - x.complete, 0);
    return [
      { scenario: 'postgres, 2 instances × 10 connections: durable create writes/s', value: pick(m.pg, 'post', 'rps'), unit: '/s' },
      { scenario: 'file engine, 1 server × 10 connections: durable create writes/s', value: pick(m.file, 'post', 'rps'), unit: '/s' },
      { scenario: 'postgres, 2 instances × 10 connections: durable create p99', value: pick(m.pg, 'post', 'p99'), unit: 'ms' },
      { scenario: 'file engine, 1 server × 10 connections: durable create p99', value: pick(m.file, 'post', 'p99'), unit: 'ms' },
      { scenario: 'postgres, 2 instances × 10 connections: durable PATCH writes/s', value: pick(m.pg, 'patch', 'rps'), unit: '/s' },
      { scenario: 'file engine, 1 server × 10 connections: durable PATCH writes/s', value: pick(m.file, 'patch', 'rps'), unit: '/s' },
      { scenario: 'postgres, 2 instances × 10 connections: durable PATCH p99', value: pick(m.pg, 'patch', 'p99'), unit: 'ms' },
      { scenario: 'file engine, 1 server × 10 connections: durable PATCH p99', value: pick(m.file, 'patch', 'p99'), unit: 'ms' },
      {
        scenario: `postgres: replay of ${events.toLocaleString('en')} events over a WebSocket (since=0 → last)`,
        value: median(m.replay.map((x) => x.ms)),
        unit: 'ms',
      },
      {
        scenario: 'postgres: PATCH on A → client of B, p50 (floor: commit → NOTIFY heard)',
        value: median(m.latency.map((x) => x.p50)),
        floor: median(m.floor.map((x) => x.p50)),
        unit: 'ms',
      },
      {
        scenario: `postgres: PATCH on A → client of B, p99${lost ? ` (${lost} events never arrived)` : ''}`,
        value: median(m.latency.map((x) => x.p99)),
        floor: median(m.floor.map((x) => x.p99)),
        unit: 'ms',
        target: '≤ 50 ms',
        met: !lost && median(m.latency.map((x) => x.p99)) <= 50,
      },
      {
        scenario: `postgres: database gone for ${outageSeconds} s, then back → a write on A accepted`,
        value: recovery.write,
        unit: 'ms',
      },
      {
        scenario: `postgres: database gone for ${outageSeconds} s, then back → A's change heard by B within 100 ms`,
        value: recovery.heard,
        unit: 'ms',
      },
    ];
  } finally {
    await stopAll().catch(() => {});
    await cluster?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
