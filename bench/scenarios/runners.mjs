// Runners (contract §15): the server with its local runner on a private tmux socket. Spawn request → run.state
// "running", one at a time and 20 at once, against the floor of starting the same agent in a bare tmux session; and
// the live terminal's output latency (an agent prints a timestamp every 10 ms, a viewer receives it).
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { call, diskDir, endTmux, hasTmux, localRunnerEnv, median, quantile, startMaestro } from '../lib/harness.mjs';

export const name = 'runners';

export async function run({ root, quick, bench }) {
  if (!hasTmux()) return [{ scenario: 'runners: skipped (no tmux)' }];
  const dir = diskDir('maestro-bench-runners-');
  const work = join(dir, 'work');
  mkdirSync(work);
  const socket = `maestro-bench-${process.pid}`;
  const ticker = join(bench, 'ticker.mjs');
  let server, events, viewer;
  try {
    server = await startMaestro(root, dir, localRunnerEnv(socket, `${process.execPath} ${ticker}`));
    const { url } = server;
    // Every session's first session:updated with run.state "running", timestamped on arrival.
    const running = new Map();
    const waiters = new Map();
    events = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`);
    events.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'session:updated' && m.data.run?.state === 'running' && !running.has(m.data.id)) {
        running.set(m.data.id, performance.now());
        waiters.get(m.data.id)?.();
      }
    });
    await new Promise((r) => events.once('open', r));
    const untilRunning = (id) => (running.has(id) ? Promise.resolve() : new Promise((r) => waiters.set(id, r)));
    for (let i = 0; !(await call(url, 'GET', '/api/hosts')).some((h) => h.name === 'bench' && h.status === 'online'); i++) {
      if (i > 200) throw new Error('the local runner never came online');
      await sleep(50);
    }

    const project = await call(url, 'POST', '/api/projects', { name: 'Bench', workingDir: work });
    const spawnOne = async (agent = 'custom') => {
      const task = await call(url, 'POST', '/api/tasks', { projectId: project.id, title: 'bench' });
      const t0 = performance.now();
      const { sessionId } = await call(url, 'POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent });
      await untilRunning(sessionId);
      return { id: sessionId, ms: running.get(sessionId) - t0 };
    };
    const sequential = [];
    const bare = [];
    for (let i = 0; i < (quick ? 3 : 10); i++) {
      sequential.push((await spawnOne()).ms);
      bare.push(await bareTmux(socket, work, ticker, [`floor-${i}`]));
    }
    const burst = quick ? 5 : 20;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: burst }, () => spawnOne()));
    const burstMs = performance.now() - t0;
    const bareBurst = await bareTmux(
      socket,
      work,
      ticker,
      Array.from({ length: burst }, (_, i) => `floor-burst-${i}`),
    );

    // Output latency: a shell agent, watched live, runs a ticker typed into it.
    const shell = await spawnOne('shell');
    viewer = new WebSocket(`${url.replace(/^http/, 'ws')}/api/sessions/${shell.id}/terminal`);
    const latencies = [];
    let buffer = '';
    let prompted;
    const prompt = new Promise((r) => (prompted = r));
    viewer.on('message', (data) => {
      const now = Date.now();
      prompted();
      buffer += String(data);
      const re = /T:(\d{13})\r?\n/g;
      let last = 0;
      for (let m = re.exec(buffer); m; m = re.exec(buffer)) {
        latencies.push(now - Number(m[1]));
        last = re.lastIndex;
      }
      buffer = buffer.slice(last);
    });
    await prompt; // the shell has printed something: it is up
    const ticks = quick ? 100 : 300;
    await call(url, 'POST', `/api/sessions/${shell.id}/input`, { text: `TICKS=${ticks} ${process.execPath} ${ticker}` });
    // The echo of the typed command line holds no full timestamp, so every sample is agent output.
    for (let i = 0; i < 200 && latencies.length < ticks - 20; i++) await sleep(50);
    latencies.sort((a, b) => a - b);

    return [
      { scenario: 'spawn → running, one at a time: median', value: median(sequential), floor: median(bare), unit: 'ms' },
      { scenario: 'spawn → running, one at a time: max', value: Math.max(...sequential), floor: Math.max(...bare), unit: 'ms' },
      { scenario: `${burst} spawns at once: all running`, value: burstMs, floor: bareBurst, unit: 'ms' },
      { scenario: `terminal output latency (n=${latencies.length}): median`, value: quantile(latencies, 0.5), unit: 'ms' },
      { scenario: 'terminal output latency: p99', value: quantile(latencies, 0.99), unit: 'ms' },
    ];
  } finally {
    viewer?.close();
    events?.close();
    await server?.stop();
    endTmux(socket);
    rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The floor of launches: the same agent in detached tmux sessions on the same socket, one tmux process each, at once. */
async function bareTmux(socket, cwd, ticker, names) {
  const started = performance.now();
  const env = { ...process.env, TICKS: '1' };
  const launch = (name) =>
    new Promise((resolve, reject) =>
      execFile('tmux', ['-L', socket, 'new-session', '-d', '-s', name, '-c', cwd, process.execPath, ticker], { env }, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  await Promise.all(names.map(launch));
  return performance.now() - started;
}
