// Writes (issue: file engine v3). Durable task creates and PATCHes over HTTP at 10 connections and at 1, against a
// bare script that makes same-size files durable one at a time (write, fsync, rename, fsync dir); and the commit path
// alone (the Db and the file engine in this process): its rate and the mutations each commit (one flush) carried.
import { mkdtempSync, rmSync } from 'node:fs';
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
    const m = { patch10: [], create10: [], patch1: [], floor: [] };
    for (let r = 0; r < rounds; r++) {
      const patch = (connections) =>
        httpLoad(server.url, {
          path: `/api/tasks/${task.id}`,
          method: 'PATCH',
          connections,
          seconds,
          next: (i) => ({ description: `step ${i}` }),
        });
      m.patch10.push(await patch(10));
      m.create10.push(
        await httpLoad(server.url, {
          path: '/api/tasks',
          method: 'POST',
          connections: 10,
          seconds,
          next: (i) => ({ projectId: project.id, title: `Task ${i}` }),
        }),
      );
      m.patch1.push(await patch(1));
      const floor = await startChild(join(bench, 'floor/durable-writes.mjs'), [join(dir, 'floor'), String(seconds), '700'], {
        ready: /([\d.]+) writes\/s/,
      });
      m.floor.push(Number(floor.match[1]));
      await floor.stop();
    }
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
    const rows = [
      {
        scenario: 'durable PATCH, 10 connections: writes/s',
        value: median(m.patch10.map((x) => x.rps)),
        floor: floorRate,
        unit: '/s',
        target: '≥ 4×',
        check: (v, f) => v >= 4 * f,
      },
      {
        scenario: 'durable PATCH, 10 connections: p99',
        value: median(m.patch10.map((x) => x.p99)),
        floor: single,
        unit: 'ms',
        target: '≤ 4×',
        check: (v, f) => v <= 4 * f,
      },
      {
        scenario: 'durable create, 10 connections: writes/s',
        value: median(m.create10.map((x) => x.rps)),
        floor: floorRate,
        unit: '/s',
        target: '≥ 4×',
        check: (v, f) => v >= 4 * f,
      },
      {
        scenario: 'durable create, 10 connections: p99',
        value: median(m.create10.map((x) => x.p99)),
        floor: single,
        unit: 'ms',
        target: '≤ 4×',
        check: (v, f) => v <= 4 * f,
      },
      {
        scenario: 'durable PATCH, 1 connection: p50',
        value: median(m.patch1.map((x) => x.p50)),
        floor: single,
        unit: 'ms',
        target: '≤ 1.5×',
        check: (v, f) => v <= 1.5 * f,
      },
      { scenario: 'over HTTP, all runs above: mutations per commit (mean)', value: mutations / commits, unit: '', check: () => undefined },
      { scenario: 'over HTTP, all runs above: mutations per commit (largest)', value: Number(largest), unit: '', check: () => undefined },
      {
        scenario: 'commit path (Db + file engine), 10 in flight: mutations per flush',
        value: commit.batch,
        unit: '',
        check: () => undefined,
      },
      {
        scenario: 'commit path (Db + file engine), 10 in flight: mutations/s',
        value: commit.rate,
        floor: floorRate,
        unit: '/s',
        target: '≥ 4×',
        check: (v, f) => v >= 4 * f,
      },
    ];
    return rows.map(({ check, ...row }) => ({ ...row, met: check(row.value, row.floor) }));
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
