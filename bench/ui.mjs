// Dashboard benchmark in Debian's Chromium (playwright-core, nothing downloaded): how long a project of 2,000 tasks
// takes to show its board, and how the page keeps up with 50 task updates per second (main-thread lag, long tasks,
// how late the last update is on screen).
// Usage: npm run build && node bench/ui.mjs [tasks=2000] [rate=50] [seconds=10]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [taskCount = 2000, rate = 50, seconds = 10] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-ui-'));
const server = spawn(process.execPath, ['dist/lib/server.js'], {
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: join(dir, 'data'),
    SESSION_DIR: join(dir, 's'),
    SKILLS_DIR: join(dir, 'k'),
    LOG_LEVEL: 'info',
    MAESTRO_LOCAL_RUNNER: '0',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const url = await new Promise((resolve, reject) => {
  let out = '';
  const onData = (c) => {
    out += c;
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) resolve(m[1]);
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.once('exit', () => reject(new Error(out)));
});

const call = async (method, path, body) => {
  const res = await fetch(url + path, { method, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
  return res.json();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
try {
  const project = await call('POST', '/api/projects', { name: 'Bench' });
  const ids = [];
  for (let i = 0; i < taskCount; i += 25) {
    const batch = Array.from({ length: Math.min(25, taskCount - i) }, (_, k) =>
      call('POST', '/api/tasks', { projectId: project.id, title: `Task ${i + k}` }),
    );
    ids.push(...(await Promise.all(batch)).map((t) => t.id));
  }
  const statuses = ['todo', 'in_progress', 'blocked', 'completed'];
  for (let i = 0; i < ids.length; i += 25) {
    await Promise.all(ids.slice(i, i + 25).map((id, k) => call('PATCH', `/api/tasks/${id}`, { status: statuses[(i + k) % 4] })));
  }

  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const t0 = performance.now();
  await page.goto(`${url}/#/p/${project.id}`);
  await page.waitForFunction((n) => document.querySelectorAll('.task').length >= n, Math.min(taskCount, 600), {
    timeout: 60_000,
    polling: 'raf',
  });
  const loaded = performance.now() - t0;
  // Render alone: leave the board and come back (the data is in memory already).
  const render = await page.evaluate(async (hash) => {
    location.hash = '#/';
    await new Promise((r) => setTimeout(r, 200));
    const start = performance.now();
    location.hash = hash;
    while (document.querySelectorAll('.task').length === 0) await new Promise((r) => requestAnimationFrame(r));
    await new Promise((r) => requestAnimationFrame(r));
    return performance.now() - start;
  }, `#/p/${project.id}`);
  console.log(`load average ${loadavg()[0].toFixed(1)} on this machine while measuring`);
  console.log(
    `board of ${taskCount} tasks: ${loaded.toFixed(0)} ms from navigation to every column drawn; ${render.toFixed(0)} ms to render it again from memory`,
  );

  // Main-thread lag probe: a 10 ms timer records how late it fires; long tasks are counted by the browser.
  await page.evaluate(() => {
    window.__lags = [];
    window.__long = [];
    new PerformanceObserver((list) => window.__long.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      window.__lags.push(now - last - 10);
      last = now;
    }, 10);
  });
  const total = rate * seconds;
  const started = performance.now();
  const answers = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    // The first 100 tasks: each is among the cards its column shows.
    answers.push(call('PATCH', `/api/tasks/${ids[i % 100]}`, { title: `Task ${i % 100} v${i}` }));
  }
  await Promise.all(answers);
  // The server sends a mutation's event before its answer: from here on the delay is the page's.
  const sent = performance.now();
  const lastTitle = `Task ${(total - 1) % 100} v${total - 1}`;
  await page.waitForFunction((t) => [...document.querySelectorAll('.task-title')].some((e) => e.textContent === t), lastTitle, {
    timeout: 30_000,
    polling: 50,
  });
  const behind = performance.now() - sent;
  const { lags, long } = await page.evaluate(() => ({ lags: window.__lags, long: window.__long }));
  lags.sort((a, b) => a - b);
  const q = (p) => Math.max(0, lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]).toFixed(0);
  console.log(
    `${total} updates at ${rate}/s on that board: main-thread lag p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms; ` +
      `${long.length} long tasks (max ${Math.max(0, ...long).toFixed(0)} ms); last update on screen ${behind.toFixed(0)} ms after the server answered it`,
  );
} finally {
  await browser.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
