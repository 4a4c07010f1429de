// Startup: from spawn to listening, and resident memory once loaded (and after 1 s idle), at 10k, 50k and 100k
// tasks (100 per project, one session per project), against a bare script that reads and parses the same files. The
// server reads its snapshot (written at its previous stop); its first start over fresh files is shown apart.
// One directory grows from size to size, so the whole run writes 100k task files, not 160k.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { median, memoryDir, rssMiB, startChild, startMaestro, writeDataDir } from '../lib/harness.mjs';

export const name = 'startup';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function run({ root, quick, rounds, bench }) {
  const rows = [];
  const dir = memoryDir('maestro-bench-startup-');
  let written = 0;
  try {
    for (const tasks of quick ? [10_000] : [10_000, 50_000, 100_000]) {
      writeDataDir(join(dir, 'data'), { projects: (tasks - written) / 100, tasksPerProject: 100, from: written / 100 });
      written = tasks;
      const ours = [];
      const bare = [];
      // The first start after files were written behind the server's back reads every file (the snapshot does not
      // know them) and leaves a snapshot for the next: measured on its own row.
      const cold = await startMaestro(root, dir, { MAESTRO_LOCAL_RUNNER: '0' });
      const coldMs = cold.ms;
      await cold.stop();
      for (let r = 0; r < rounds; r++) {
        const server = await startMaestro(root, dir, { MAESTRO_LOCAL_RUNNER: '0' });
        const loaded = rssMiB(server.child.pid);
        await sleep(1000);
        ours.push({ ms: server.ms, rss: Math.max(loaded, rssMiB(server.child.pid)), idle: rssMiB(server.child.pid) });
        await server.stop();
        const floor = await startChild(join(bench, 'floor/read-parse.mjs'), [join(dir, 'data')], { ready: /ready/ });
        bare.push({ ms: floor.ms, rss: rssMiB(floor.child.pid) });
        await floor.stop();
      }
      const label = `startup ${tasks.toLocaleString('en')} tasks`;
      const [ms, floorMs] = [median(ours.map((x) => x.ms)), median(bare.map((x) => x.ms))];
      const [rss, floorRss] = [median(ours.map((x) => x.rss)), median(bare.map((x) => x.rss))];
      rows.push({
        scenario: `${label}: time to listening, no snapshot yet (reads every file)`,
        value: coldMs,
        floor: floorMs,
        unit: 'ms',
      });
      rows.push({
        scenario: `${label}: time to listening`,
        value: ms,
        floor: floorMs,
        unit: 'ms',
        target: '≤ 1.5× floor',
        met: ms <= 1.5 * floorMs,
      });
      const cap = tasks >= 100_000 ? ', ≤ 300 MiB' : '';
      rows.push({
        scenario: `${label}: resident memory`,
        value: rss,
        floor: floorRss,
        unit: 'MiB',
        target: `≤ 1.5× floor${cap}`,
        met: rss <= 1.5 * floorRss && (!cap || rss <= 300),
      });
      rows.push({ scenario: `${label}: memory after 1 s idle`, value: median(ours.map((x) => x.idle)), floor: floorRss, unit: 'MiB' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
