// Startup benchmark (contract §11: under 1 s for hundreds of projects / thousands of tasks).
// Writes a data directory of the given size, then starts the compiled server as its own process on a free
// loopback port several times and reports how long it takes to listen, and its memory once loaded.
// Usage: npm run build && node bench/startup.mjs [projects=500] [tasksPerProject=10] [runs=5]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [projects = 500, tasksPerProject = 10, runs = 5] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-'));
const data = join(dir, 'data');
const write = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

let now = Date.now() - 1e7;
for (const kind of ['projects', 'tasks', 'sessions', 'queues', 'templates']) mkdirSync(join(data, kind), { recursive: true });
for (let p = 0; p < projects; p++) {
  const projectId = `proj_${now}_p${p}`;
  write(join(data, 'projects', `${projectId}.json`), { id: projectId, name: `Project ${p}`, workingDir: `/src/p${p}`, description: '', createdAt: now, updatedAt: now });
  mkdirSync(join(data, 'tasks', projectId));
  const taskIds = [];
  for (let t = 0; t < tasksPerProject; t++) {
    const id = `task_${++now}_t${p}x${t}`;
    taskIds.push(id);
    write(join(data, 'tasks', projectId, `${id}.json`), {
      id, projectId, parentId: t > 0 ? taskIds[0] : null, title: `Task ${t} of project ${p}`, description: 'x'.repeat(200),
      status: 'todo', priority: 'medium', createdAt: now, updatedAt: now, startedAt: null, completedAt: null,
      initialPrompt: '', sessionIds: [], skillIds: [], agentIds: [], dependencies: [],
    });
  }
  const sessionId = `sess_${++now}_s${p}`;
  write(join(data, 'sessions', `${sessionId}.json`), {
    id: sessionId, projectId, taskIds: [], name: `Session ${p}`, env: {}, strategy: 'simple', status: 'idle',
    startedAt: now, lastActivity: now, completedAt: null, hostname: 'bench', platform: 'linux', events: [],
    timeline: [{ id: `evt_${now}_a`, type: 'session_started', timestamp: now, message: 'Session created' }],
  });
}

function startOnce() {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, ['dist/lib/main.js'], {
      env: { ...process.env, PORT: '0', DATA_DIR: data, SESSION_DIR: join(dir, 'sessions'), SKILLS_DIR: join(dir, 'skills'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listen line in 30 s:\n${out}`)); }, 30_000);
    child.stderr.on('data', async (chunk) => {
      out += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url || child.listening) return;
      child.listening = true;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const tasks = (await (await fetch(`${url}/api/tasks`)).json()).length;
      const rss = Number((await import('node:fs')).readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
      clearTimeout(timer);
      child.once('exit', () => resolve({ ms, tasks, rss }));
      child.kill('SIGTERM');
    });
  });
}

try {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await startOnce());
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`${projects} projects, ${projects * tasksPerProject} tasks, ${projects} sessions; ${runs} runs`);
  console.log(`start to listening (process spawn included): median ${median.toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times.at(-1).toFixed(0)} ms`);
  console.log(`tasks served after start: ${results[0].tasks}; resident memory: ${results[0].rss.toFixed(0)} MiB`);
  console.log(`target 1000 ms: median is ${(median / 1000).toFixed(2)}x the target`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
