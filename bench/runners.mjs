// Runner benchmark: starts the compiled server with its local runner (own tmux socket), then measures
// 1. spawn request → run.state "running" (sequential spawns, median and max),
// 2. 20 spawns at once → all running,
// 3. terminal output latency: the agent prints a timestamp every 10 ms, a live-terminal viewer receives it.
// Usage: npm run build && node bench/runners.mjs [sequential=10] [burst=20]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';

const [sequential = 10, burst = 20] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-'));
const work = join(dir, 'work');
mkdirSync(work);
const socket = `maestro-bench-${process.pid}`;
const ticker = resolve('bench/ticker.mjs');
const server = spawn(process.execPath, ['dist/lib/main.js'], {
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: join(dir, 'data'),
    SESSION_DIR: join(dir, 's'),
    SKILLS_DIR: join(dir, 'k'),
    LOG_LEVEL: 'info',
    MAESTRO_TOKEN: '',
    MAESTRO_LOCAL_RUNNER: '1',
    MAESTRO_HOST_NAME: 'bench',
    MAESTRO_TMUX_SOCKET: socket,
    MAESTRO_AGENT_COMMAND: `${process.execPath} ${ticker}`,
    TICKS: '1',
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const url = await new Promise((ok, fail) => {
  let out = '';
  server.stderr.on('data', (c) => {
    out += c;
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) ok(m[1]);
  });
  server.once('exit', () => fail(new Error(out)));
});
const call = async (method, path, body) => {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

// Every session:updated with run.state running, timestamped on arrival.
const running = new Map();
const waiters = new Map();
const events = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`);
events.on('message', (data) => {
  const m = JSON.parse(String(data));
  if (m.type === 'session:updated' && m.data.run?.state === 'running' && !running.has(m.data.id)) {
    running.set(m.data.id, performance.now());
    waiters.get(m.data.id)?.();
  }
});
await new Promise((r) => events.once('open', r));
const untilRunning = (id) => (running.has(id) ? Promise.resolve() : new Promise((r) => waiters.set(id, r)));

try {
  for (let i = 0; ; i++) {
    const hosts = await call('GET', '/api/hosts');
    if (hosts.some((h) => h.name === 'bench' && h.status === 'online')) break;
    if (i > 200) throw new Error('local runner never came online');
    await sleep(50);
  }
  const project = await call('POST', '/api/projects', { name: 'Bench', workingDir: work });
  const spawnOne = async () => {
    const task = await call('POST', '/api/tasks', { projectId: project.id, title: 'bench' });
    const t0 = performance.now();
    const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom' });
    await untilRunning(res.sessionId);
    return { id: res.sessionId, ms: running.get(res.sessionId) - t0 };
  };

  const seq = [];
  for (let i = 0; i < sequential; i++) seq.push((await spawnOne()).ms);
  console.log(`spawn → running (sequential, n=${sequential}): median ${pct(seq, 50).toFixed(0)} ms, max ${Math.max(...seq).toFixed(0)} ms`);

  const t0 = performance.now();
  await Promise.all(Array.from({ length: burst }, spawnOne));
  console.log(`${burst} spawns at once: all running after ${(performance.now() - t0).toFixed(0)} ms`);

  // Output latency: a shell agent, watched live, runs a ticker typed into it.
  const shellTask = await call('POST', '/api/tasks', { projectId: project.id, title: 'ticker shell' });
  const sh = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [shellTask.id], agent: 'shell' });
  await untilRunning(sh.sessionId);
  const viewer = new WebSocket(`${url.replace(/^http/, 'ws')}/api/sessions/${sh.sessionId}/terminal`);
  const latencies = [];
  let buffer = '';
  viewer.on('message', (data) => {
    const now = Date.now();
    buffer += String(data);
    let m;
    const re = /T:(\d{13})\r?\n/g;
    let last = 0;
    while ((m = re.exec(buffer))) {
      latencies.push(now - Number(m[1]));
      last = re.lastIndex;
    }
    buffer = buffer.slice(last);
  });
  await new Promise((r) => viewer.once('open', r));
  await sleep(1500); // the shell prints the prompt and starts
  await call('POST', `/api/sessions/${sh.sessionId}/input`, { text: `TICKS=300 ${process.execPath} ${ticker}` });
  for (let i = 0; i < 200 && latencies.length < 280; i++) await sleep(50);
  // The echo of the typed command line contains no full timestamp, so every sample is agent output.
  console.log(
    `terminal output latency (n=${latencies.length}): median ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${Math.max(...latencies)} ms`,
  );
  viewer.close();
} finally {
  events.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  try {
    execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  } catch {}
  rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid()}`, socket), { force: true });
  rmSync(dir, { recursive: true, force: true });
}
