// Claim benchmark (contract §18): a project of 10,000 tasks with 1,000 dependency edges, written straight into a
// fresh data directory in the contract's layout, then the compiled server started as its own process on a free
// loopback port. Measures `POST /api/tasks/claim-next` from 10 concurrent clients (one session each) for a fixed
// time, then `GET /api/tasks/next` one request at a time. Every claim is on disk before its answer.
// Usage: npm run build && node bench/claims.mjs [seconds=5] [connections=10] [tasks=10000] [edges=1000]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [seconds = 5, connections = 10, taskCount = 10_000, edgeCount = 1_000] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-'));
const dataDir = join(dir, 'data');
const projectId = 'proj_bench';
const priorities = ['low', 'medium', 'high'];

// Seed: task i may depend on an earlier task, so the graph is acyclic; the first 1,000 tasks are ready or not
// depending on their blockers, the rest are a large ready set.
mkdirSync(join(dataDir, 'projects'), { recursive: true });
mkdirSync(join(dataDir, 'tasks', projectId), { recursive: true });
const t0 = Date.now() - taskCount;
writeFileSync(
  join(dataDir, 'projects', `${projectId}.json`),
  JSON.stringify({ id: projectId, name: 'Bench', workingDir: '', description: '', createdAt: t0, updatedAt: t0 }),
);
const ids = Array.from({ length: taskCount }, (_, i) => `task_bench_${String(i).padStart(5, '0')}`);
const deps = ids.map(() => []);
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
for (let e = 0; e < edgeCount; e++) {
  const i = 1 + Math.floor(random() * (taskCount - 1));
  const j = Math.floor(random() * i);
  if (!deps[i].includes(ids[j])) deps[i].push(ids[j]);
}
ids.forEach((id, i) => {
  const task = {
    id,
    projectId,
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
  writeFileSync(join(dataDir, 'tasks', projectId, `${id}.json`), JSON.stringify(task));
});
const edges = deps.reduce((n, d) => n + d.length, 0);

const server = spawn(process.execPath, ['dist/lib/main.js'], {
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    SESSION_DIR: join(dir, 's'),
    SKILLS_DIR: join(dir, 'k'),
    LOG_LEVEL: 'info',
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const killer = setTimeout(() => server.kill('SIGKILL'), (seconds + 120) * 1000); // bounded, whatever happens
const url = await new Promise((resolve, reject) => {
  let out = '';
  server.stderr.on('data', (c) => {
    out += c;
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  server.once('exit', () => reject(new Error(out)));
});

const call = async (method, path, body) => {
  const res = await fetch(url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
const quantile = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))].toFixed(2);

try {
  const sessions = await Promise.all(Array.from({ length: connections }, () => call('POST', '/api/sessions', { projectId, taskIds: [] })));
  // Warm-up: a few requests of each kind, not measured.
  for (let i = 0; i < 20; i++) await call('GET', `/api/tasks/next?projectId=${projectId}`);

  const claimed = new Set();
  const latencies = [];
  const deadline = Date.now() + seconds * 1000;
  const worker = async (session) => {
    while (Date.now() < deadline) {
      const started = performance.now();
      const { task } = await call('POST', '/api/tasks/claim-next', { projectId, sessionId: session.id });
      latencies.push(performance.now() - started);
      if (!task) break;
      if (claimed.has(task.id)) throw new Error(`${task.id} was claimed twice`);
      claimed.add(task.id);
    }
  };
  const c0 = performance.now();
  await Promise.all(sessions.map(worker));
  const elapsed = (performance.now() - c0) / 1000;
  latencies.sort((a, b) => a - b);

  const reads = [];
  for (let i = 0; i < 1000; i++) {
    const started = performance.now();
    await call('GET', `/api/tasks/next?projectId=${projectId}`);
    reads.push(performance.now() - started);
  }
  reads.sort((a, b) => a - b);

  console.log(`project: ${taskCount} tasks, ${edges} dependency edges`);
  console.log(
    `claim-next, ${connections} connections, ${elapsed.toFixed(1)} s: ${latencies.length} claims (${(latencies.length / elapsed).toFixed(0)}/s), no task twice`,
  );
  console.log(
    `  latency ms: p50 ${quantile(latencies, 0.5)}, p90 ${quantile(latencies, 0.9)}, p99 ${quantile(latencies, 0.99)}, max ${quantile(latencies, 1)}`,
  );
  console.log(`GET /api/tasks/next, sequential, ${reads.length} requests: p50 ${quantile(reads, 0.5)} ms, p99 ${quantile(reads, 0.99)} ms`);
} finally {
  clearTimeout(killer);
  server.kill('SIGTERM');
  await new Promise((r) => (server.exitCode === null ? server.once('exit', r) : r()));
  rmSync(dir, { recursive: true, force: true });
}
