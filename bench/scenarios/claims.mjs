// Claims (contract §18): a project of 10,000 tasks with 1,000 dependency edges, written into the data directory
// before startup. `POST /api/tasks/claim-next` from 10 sessions at once (every claim on disk before its answer; no
// task may be claimed twice), against the durable-writes floor; then `GET /api/tasks/next` one request at a time,
// against a bare node:http server sending the same bytes.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, diskDir, httpLoad, median, startChild, startMaestro } from '../lib/harness.mjs';

export const name = 'claims';

const PROJECT = 'proj_bench';
const CONNECTIONS = 10;

export async function run({ root, quick, rounds, bench }) {
  const tasks = 10_000;
  const dir = diskDir('maestro-bench-claims-');
  let server, floorServer;
  try {
    const edges = writeProject(join(dir, 'data'), tasks, 1_000);
    server = await startMaestro(root, dir);
    const sessions = await Promise.all(
      Array.from({ length: CONNECTIONS }, () => call(server.url, 'POST', '/api/sessions', { projectId: PROJECT, taskIds: [] })),
    );
    const seconds = quick ? 1.5 : 3;
    const claimed = new Set();
    const m = { claims: [], floor: [] };
    for (let r = 0; r < rounds; r++) {
      m.claims.push(await claimLoad(server.url, sessions, seconds, claimed));
      const floor = await startChild(join(bench, 'floor/durable-writes.mjs'), [join(dir, 'floor'), String(seconds), '600'], {
        ready: /([\d.]+) writes\/s/,
      });
      m.floor.push(Number(floor.match[1]));
      await floor.stop();
    }
    // The next task, one request at a time, against the same bytes from a bare server.
    const path = `/api/tasks/next?projectId=${PROJECT}`;
    writeFileSync(join(dir, 'next.json'), Buffer.from(await (await fetch(server.url + path)).arrayBuffer()));
    floorServer = await startChild(join(bench, 'floor/http-server.mjs'), [join(dir, 'next.json')]);
    const next = [];
    const bare = [];
    for (let r = 0; r < rounds; r++) {
      next.push(await httpLoad(server.url, { path, connections: 1, seconds }));
      bare.push(await httpLoad(floorServer.match[1], { path, connections: 1, seconds }));
    }
    const floorRate = median(m.floor);
    const label = `claim-next, ${tasks.toLocaleString('en')} tasks, ${edges.toLocaleString('en')} edges, ${CONNECTIONS} sessions`;
    return [
      { scenario: `${label}: claims/s`, value: median(m.claims.map((x) => x.rps)), floor: floorRate, unit: '/s' },
      {
        scenario: `${label}: p99`,
        value: median(m.claims.map((x) => x.p99)),
        floor: 1000 / floorRate,
        unit: 'ms',
        target: '< 20 ms',
        met: median(m.claims.map((x) => x.p99)) < 20,
      },
      { scenario: `${label}: claims made (none twice)`, value: claimed.size, unit: '' },
      {
        scenario: 'GET /api/tasks/next, one at a time: p50',
        value: median(next.map((x) => x.p50)),
        floor: median(bare.map((x) => x.p50)),
        unit: 'ms',
      },
    ];
  } finally {
    await server?.stop();
    await floorServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each session claims the next task as soon as its last claim is answered, for `seconds`; a task claimed twice throws. */
async function claimLoad(url, sessions, seconds, claimed) {
  const result = await httpLoad(url, {
    path: '/api/tasks/claim-next',
    method: 'POST',
    connections: sessions.length,
    seconds,
    next: (i) => ({ projectId: PROJECT, sessionId: sessions[i % sessions.length].id }),
    onBody: ({ task }) => {
      if (!task) return;
      if (claimed.has(task.id)) throw new Error(`${task.id} was claimed twice`);
      claimed.add(task.id);
    },
  });
  if (result.errors) throw new Error(`claim-next: ${result.errors} request(s) failed`);
  return result;
}

/**
 * One project of `count` tasks in the contract's layout. Task i may depend on an earlier task (so the graph has no
 * cycle): the first tasks are ready or not depending on their blockers, the rest are a large ready set.
 */
function writeProject(data, count, edgeCount) {
  mkdirSync(join(data, 'projects'), { recursive: true });
  mkdirSync(join(data, 'tasks', PROJECT), { recursive: true });
  const t0 = Date.now() - count;
  const project = { id: PROJECT, name: 'Bench', workingDir: '', description: '', createdAt: t0, updatedAt: t0 };
  writeFileSync(join(data, 'projects', `${PROJECT}.json`), JSON.stringify(project));
  const ids = Array.from({ length: count }, (_, i) => `task_bench_${String(i).padStart(5, '0')}`);
  const deps = ids.map(() => []);
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let e = 0; e < edgeCount; e++) {
    const i = 1 + Math.floor(random() * (count - 1));
    const j = Math.floor(random() * i);
    if (!deps[i].includes(ids[j])) deps[i].push(ids[j]);
  }
  const priorities = ['low', 'medium', 'high'];
  ids.forEach((id, i) => {
    const task = {
      id,
      projectId: PROJECT,
      parentId: null,
      title: `Task ${i}`,
      description: '',
      status: 'todo',
      priority: priorities[i % 3],
      createdAt: t0 + i,
      updatedAt: t0 + i,
      startedAt: null,
      completedAt: null,
      initialPrompt: '',
      sessionIds: [],
      skillIds: [],
      agentIds: [],
      dependencies: deps[i],
    };
    writeFileSync(join(data, 'tasks', PROJECT, `${id}.json`), JSON.stringify(task));
  });
  return deps.reduce((n, d) => n + d.length, 0);
}
