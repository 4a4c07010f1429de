// List reads: GET /api/tasks?projectId=P with 1,000 and 10,000 tasks in the project, against a bare node:http
// server sending the same bytes. Closed loop, 8 keep-alive connections, alternating rounds.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpLoad, median, memoryDir, startChild, startMaestro, writeDataDir } from '../lib/harness.mjs';

export const name = 'reads';

export async function run({ root, quick, rounds, bench }) {
  const rows = [];
  for (const tasks of quick ? [1000] : [1000, 10_000]) {
    const dir = memoryDir('maestro-bench-reads-');
    let maestro, floor;
    try {
      const [projectId] = writeDataDir(join(dir, 'data'), { projects: 1, tasksPerProject: tasks });
      maestro = await startMaestro(root, dir);
      const path = `/api/tasks?projectId=${projectId}`;
      const body = Buffer.from(await (await fetch(maestro.url + path)).arrayBuffer());
      writeFileSync(join(dir, 'body.json'), body);
      floor = await startChild(join(bench, 'floor/http-server.mjs'), [join(dir, 'body.json')]);
      const seconds = quick ? 1.5 : 3;
      const ours = [];
      const bare = [];
      for (let r = 0; r < rounds; r++) {
        ours.push(await httpLoad(maestro.url, { path, seconds }));
        bare.push(await httpLoad(floor.match[1], { path, seconds }));
      }
      const label = `list ${tasks.toLocaleString('en')} tasks (${(body.length / 1024).toFixed(0)} KB)`;
      const [rps, floorRps] = [median(ours.map((x) => x.rps)), median(bare.map((x) => x.rps))];
      const [p99, floorP99] = [median(ours.map((x) => x.p99)), median(bare.map((x) => x.p99))];
      const want = tasks >= 10_000 ? 0.5 : 0.6;
      rows.push({
        scenario: `${label}: requests/s`,
        value: rps,
        floor: floorRps,
        unit: '/s',
        target: `≥ ${want}× floor`,
        met: rps >= want * floorRps,
      });
      rows.push({
        scenario: `${label}: p99 latency`,
        value: p99,
        floor: floorP99,
        unit: 'ms',
        target: '≤ 2× floor',
        met: p99 <= 2 * floorP99,
      });
      if (ours.some((x) => x.errors) || bare.some((x) => x.errors))
        rows.push({ scenario: `${label}: errors`, value: ours.reduce((a, x) => a + x.errors, 0), floor: 0, unit: '' });
    } finally {
      await maestro?.stop();
      await floor?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
