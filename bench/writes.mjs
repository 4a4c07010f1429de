// Write-load benchmark: starts the compiled server as its own process on a free loopback port, then sends
// concurrent task creates and PATCHes from this process for a fixed time, and reports throughput and latency.
// Every answered write is on disk (temporary file, flush, rename, directory flush) before its answer.
// Usage: npm run build && node bench/writes.mjs [seconds=5] [concurrency=16]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [seconds = 5, concurrency = 16] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-'));
const server = spawn(process.execPath, ['dist/lib/main.js'], {
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), SESSION_DIR: join(dir, 's'), SKILLS_DIR: join(dir, 'k'), LOG_LEVEL: 'info' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
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
  const res = await fetch(url + path, { method, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
  return res.json();
};

try {
  const project = await call('POST', '/api/projects', { name: 'Bench' });
  const latencies = [];
  const deadline = Date.now() + seconds * 1000;
  let n = 0;
  const worker = async () => {
    let task;
    while (Date.now() < deadline) {
      const started = performance.now();
      task = !task || n % 2 ? await call('POST', '/api/tasks', { projectId: project.id, title: `Task ${n}` }) : await call('PATCH', `/api/tasks/${task.id}`, { status: 'in_progress', description: `step ${n}` });
      latencies.push(performance.now() - started);
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  console.log(`${latencies.length} durable writes in ${elapsed.toFixed(1)} s with ${concurrency} concurrent clients: ${(latencies.length / elapsed).toFixed(0)} writes/s`);
  console.log(`latency ms: p50 ${q(0.5)}, p90 ${q(0.9)}, p99 ${q(0.99)}, max ${q(1)}`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
