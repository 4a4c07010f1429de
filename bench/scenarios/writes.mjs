// Writes: 16 concurrent clients alternating task creates and PATCHes (every answered write is on disk before its
// answer), against a bare script that makes same-size files durable one at a time (write, fsync, rename, fsync dir).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    const ours = [];
    const creates = [];
    const bare = [];
    for (let r = 0; r < rounds; r++) {
      ours.push(await httpLoad(server.url, { path: `/api/tasks/${task.id}`, method: 'PATCH', connections: 16, seconds, next: (i) => ({ description: `step ${i}` }) }));
      creates.push(await httpLoad(server.url, { path: '/api/tasks', method: 'POST', connections: 16, seconds, next: (i) => ({ projectId: project.id, title: `Task ${i}` }) }));
      const floor = await startChild(join(bench, 'floor/durable-writes.mjs'), [join(dir, 'floor'), String(seconds), '700'], { ready: /([\d.]+) writes\/s/ });
      bare.push(Number(floor.match[1]));
      await floor.stop();
    }
    const floorRate = median(bare);
    const patch = median(ours.map((x) => x.rps));
    const create = median(creates.map((x) => x.rps));
    return [
      { scenario: 'durable PATCH, 16 clients: writes/s', value: patch, floor: floorRate, unit: '/s' },
      { scenario: 'durable PATCH, 16 clients: p99 latency', value: median(ours.map((x) => x.p99)), floor: 1000 / floorRate, unit: 'ms' },
      { scenario: 'durable task create, 16 clients: writes/s', value: create, floor: floorRate, unit: '/s' },
    ];
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
