// Fan-out: 500 WebSocket clients (in their own process) while PATCHes arrive at 20/s: how long until the last
// client has each event (p50/p99), against a bare `ws` server broadcasting a same-size message per POST; and
// closed-loop PATCH throughput with the 500 clients connected against the same server with none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { call, httpLoad, median, quantile, startChild, startMaestro, wallMs } from '../lib/harness.mjs';

export const name = 'fanout';

const CLIENTS = 500;
const RATE = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Sends `RATE` POST/PATCH per second for `seconds`, each with a marker; returns last-client latencies (ms). */
async function paced(url, path, method, seconds, clients) {
  const sent = new Map();
  const answered = [];
  const total = Math.round(seconds * RATE);
  const t0 = wallMs();
  const pending = [];
  for (let k = 0; k < total; k++) {
    const wait = t0 + (k * 1000) / RATE - wallMs();
    if (wait > 0) await sleep(wait);
    const at = wallMs();
    sent.set(String(k), at);
    pending.push(
      fetch(url + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ description: `mark-${k}` }) })
        .then((r) => r.arrayBuffer())
        .then(() => answered.push(wallMs() - at)),
    );
  }
  await Promise.all(pending);
  await sleep(500); // let the last events arrive
  const seen = await clients.report();
  const latencies = [];
  let complete = 0;
  for (const [k, at] of sent) {
    const [count, last] = seen[k] ?? [0, 0];
    if (count >= CLIENTS) {
      complete++;
      latencies.push(last - at);
    }
  }
  latencies.sort((a, b) => a - b);
  answered.sort((a, b) => a - b);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), answer: quantile(answered, 0.5), complete, total };
}

async function startClients(bench, url) {
  const clients = await startChild(join(bench, 'lib/ws-clients.mjs'), [`${url.replace('http', 'ws')}/ws`, String(CLIENTS)], {
    ready: /ready/,
  });
  const lines = createInterface({ input: clients.child.stdout });
  return {
    ...clients,
    report: () =>
      new Promise((resolve) => {
        lines.once('line', (line) => resolve(JSON.parse(line)));
        clients.child.stdin.write('report\n');
      }),
  };
}

export async function run({ root, quick, rounds, bench }) {
  const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-fanout-'));
  const seconds = quick ? 2 : 3;
  const ours = [];
  const bare = [];
  const alone = [];
  const crowded = [];
  let lost = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      const server = await startMaestro(root, dir);
      try {
        const project = await call(server.url, 'POST', '/api/projects', { name: 'Fan-out' });
        const task = await call(server.url, 'POST', '/api/tasks', { projectId: project.id, title: 'Fan-out' });
        const path = `/api/tasks/${task.id}`;
        const patch = { path, method: 'PATCH', connections: 8, seconds: seconds / 2, next: (i) => ({ description: `load ${i}` }) };
        alone.push((await httpLoad(server.url, patch)).rps);
        const clients = await startClients(bench, server.url);
        try {
          const result = await paced(server.url, path, 'PATCH', seconds, clients);
          lost += result.total - result.complete;
          ours.push(result);
          crowded.push((await httpLoad(server.url, patch)).rps);
        } finally {
          await clients.stop();
        }
      } finally {
        await server.stop();
      }
      const floor = await startChild(join(bench, 'floor/ws-broadcast.mjs'), ['1000']);
      try {
        const clients = await startClients(bench, floor.match[1]);
        try {
          bare.push(await paced(floor.match[1], '/', 'POST', seconds, clients));
        } finally {
          await clients.stop();
        }
      } finally {
        await floor.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const p99 = median(ours.map((x) => x.p99));
  const [tpAlone, tpCrowded] = [median(alone), median(crowded)];
  return [
    {
      scenario: `${CLIENTS} WS clients at ${RATE} PATCH/s: last-client p50`,
      value: median(ours.map((x) => x.p50)),
      floor: median(bare.map((x) => x.p50)),
      unit: 'ms',
    },
    {
      scenario: `${CLIENTS} WS clients at ${RATE} PATCH/s: last-client p99`,
      value: p99,
      floor: median(bare.map((x) => x.p99)),
      unit: 'ms',
      target: '≤ 50 ms',
      met: p99 <= 50,
    },
    // The event leaves after the write is durable: the answer's latency is in the last client's too.
    {
      scenario: `${CLIENTS} WS clients at ${RATE} PATCH/s: HTTP answer p50`,
      value: median(ours.map((x) => x.answer)),
      floor: median(bare.map((x) => x.answer)),
      unit: 'ms',
    },
    {
      scenario: `PATCH/s with ${CLIENTS} clients (floor: no clients)`,
      value: tpCrowded,
      floor: tpAlone,
      unit: '/s',
      target: '≥ 0.5× floor',
      met: tpCrowded >= 0.5 * tpAlone,
    },
    { scenario: 'events not delivered to every client', value: lost, floor: 0, unit: '' },
  ];
}
