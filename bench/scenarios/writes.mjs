// Writes (issue: file engine v3). Durable task creates and PATCHes over HTTP at 10 connections and at 1, against a
// bare script that makes same-size files durable one at a time (write, fsync, rename, fsync dir); and the commit path
// alone (the Db and the file engine in this process): its rate and the mutations each commit (one flush) carried.
// For scale, the same PATCH load against a bare node:http server that answers at once (no storage, no parsing):
// what HTTP alone costs on this machine, with the load generator on the same cores.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { call, httpLoad, median, startChild, startMaestro } from '../lib/harness.mjs';

export const name = 'writes';

export async function run({ root, quick, rounds, bench }) {
  const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-writes-'));
  let server;
  try {
    server = await startMaestro(root, dir);
    const project = await call(server.url, 'POST', '/api/projects', { name: 'Bench' });
    const task = await call(server.url, 'POST', '/api/tasks', { projectId: project.id, title: 'Bench' });
    const seconds = quick ? 1.5 : 3;
    const load = (method, path, connections, next) => httpLoad(server.url, { path, method, connections, seconds, next });
    const patch = (connections) => load('PATCH', `/api/tasks/${task.id}`, connections, (i) => ({ description: `step ${i}` }));
    const m = { patch10: [], create10: [], patch1: [], floor: [], bare10: [], bare1: [] };
    writeFileSync(join(dir, 'answer.json'), JSON.stringify(task));
    const bare = await startChild(join(bench, 'floor/http-server.mjs'), [join(dir, 'answer.json')]);
    const bareLoad = (connections) =>
      httpLoad(bare.match[1], {
        path: `/api/tasks/${task.id}`,
        method: 'PATCH',
        connections,
        seconds,
        next: (i) => ({ description: `step ${i}` }),
      });
    for (let r = 0; r < rounds; r++) {
      m.patch10.push(await patch(10));
      m.create10.push(await load('POST', '/api/tasks', 10, (i) => ({ projectId: project.id, title: `Task ${i}` })));
      m.patch1.push(await patch(1));
      m.bare10.push(await bareLoad(10));
      m.bare1.push(await bareLoad(1));
      const floor = await startChild(join(bench, 'floor/durable-writes.mjs'), [join(dir, 'floor'), String(seconds), '700'], {
        ready: /([\d.]+) writes\/s/,
      });
      m.floor.push(Number(floor.match[1]));
      await floor.stop();
    }
    await bare.stop();
    // The server's own count, logged at its stop: how many mutations each commit (one flush) carried over HTTP.
    let closing = '';
    server.child.stdout.on('data', (c) => (closing += c));
    server.child.stderr.on('data', (c) => (closing += c));
    await server.stop();
    server = undefined;
    const [, mutations, commits, largest] = /(\d+) mutation\(s\) in (\d+) commit\(s\), at most (\d+)/.exec(closing) ?? [];
    const floorRate = median(m.floor);
    const single = 1000 / floorRate;
    const commit = await commitPath(root, dir, quick ? 1.5 : 3);
    const of = (runs, key) => median(runs.map((x) => x[key]));
    /** A row against the floor: at least (`≥`) or at most (`≤`) `factor` times it. */
    const versus = (scenario, value, floor, unit, sign, factor) => ({
      scenario,
      value,
      floor,
      unit,
      target: `${sign} ${factor}×`,
      met: sign === '≥' ? value >= factor * floor : value <= factor * floor,
    });
    const figure = (scenario, value) => ({ scenario, value, unit: '' });
    return [
      versus('durable PATCH, 10 connections: writes/s', of(m.patch10, 'rps'), floorRate, '/s', '≥', 4),
      versus('durable PATCH, 10 connections: p99', of(m.patch10, 'p99'), single, 'ms', '≤', 4),
      versus('durable create, 10 connections: writes/s', of(m.create10, 'rps'), floorRate, '/s', '≥', 4),
      versus('durable create, 10 connections: p99', of(m.create10, 'p99'), single, 'ms', '≤', 4),
      versus('durable PATCH, 1 connection: p50', of(m.patch1, 'p50'), single, 'ms', '≤', 1.5),
      { scenario: 'bare node:http, same PATCH load, 10 connections: requests/s', value: of(m.bare10, 'rps'), unit: '/s' },
      { scenario: 'bare node:http, same PATCH load, 10 connections: p99', value: of(m.bare10, 'p99'), unit: 'ms' },
      { scenario: 'bare node:http, same PATCH load, 1 connection: p50', value: of(m.bare1, 'p50'), unit: 'ms' },
      figure('over HTTP, all runs above: mutations per commit (mean)', mutations / commits),
      figure('over HTTP, all runs above: mutations per commit (largest)', Number(largest)),
      figure('commit path (Db + file engine), 10 in flight: mutations per flush', commit.batch),
      versus('commit path (Db + file engine), 10 in flight: mutations/s', commit.rate, floorRate, '/s', '≥', 4),
    ];
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mutations/s through the Db and the file engine with 10 in flight, and the mutations each commit carried. */
async function commitPath(root, dir, seconds) {
  const lib = (path) => import(pathToFileURL(join(root, 'dist/lib', path)).href);
  const [{ Db }, { FileEngine }, { EventHub }, { createLogger }] = await Promise.all([
    lib('storage/db.js'),
    lib('storage/file/engine.js'),
    lib('domain/events.js'),
    lib('log.js'),
  ]);
  const rate = async () => {
    const log = createLogger('error');
    const db = await Db.open({ engine: new FileEngine({ dir: mkdtempSync(join(dir, 'db-')), log }), hub: new EventHub(log), log });
    const project = { id: 'proj_bench', name: 'x', workingDir: '', description: '', createdAt: 1, updatedAt: 1 };
    let n = 0;
    const deadline = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        await db.mutate((tx) => {
          const p = { ...project, description: `step ${n++}`, updatedAt: tx.now };
          tx.put('projects', p);
          tx.emit('project:updated', p);
        });
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 10 }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    await db.close();
    batches.push(db.stats.mutations / db.stats.flushes);
    return n / elapsed;
  };
  const batches = [];
  const rates = [];
  for (let r = 0; r < 3; r++) rates.push(await rate());
  return { rate: median(rates), batch: median(batches) };
}
