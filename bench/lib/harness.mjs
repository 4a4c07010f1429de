// Shared pieces of the benchmark scenarios: start the compiled server (or a floor script) as a child process on
// loopback, write a data directory of a given size, drive HTTP load from this process, and summarise.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh directory for data that is only read: on tmpfs when there is one, so that writing 100k files and reading
 * them back does not wait on a disk other processes are flushing to (both sides of a comparison read the same files).
 * Writes are measured on the real disk (`diskDir`).
 */
export const memoryDir = (prefix) => mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
export const diskDir = (prefix) => mkdtempSync(join(tmpdir(), prefix));

/** Milliseconds on a clock shared by every process of the machine. */
export const wallMs = () => performance.timeOrigin + performance.now();

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

export const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** Resident memory of a process in MiB, from /proc (Linux). */
export function rssMiB(pid) {
  const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib ?? 0) / 1024;
}

/**
 * Starts `node <script> ...args` and waits until it prints a line matching `ready` (stdout or stderr).
 * Resolves with the child, the match and the milliseconds from spawn to that line.
 */
export function startChild(script, args, { env = {}, ready = /listening on (http:\/\/\S+)/, timeoutMs = 120_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script}: no ready line in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (chunk) => {
      out += chunk;
      const match = ready.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.stdout.resume();
      child.stderr.resume();
      resolve({ child, match, ms: performance.now() - started, stop: () => stopChild(child) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready:\n${out}`));
    });
  });
}

export function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Starts the compiled Maestro server of `root` on a free loopback port with its own directories under `dir`. */
export async function startMaestro(root, dir, env = {}) {
  const started = await startChild(join(root, 'dist/lib/server.js'), [], {
    cwd: root,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      SESSION_DIR: join(dir, 'sessions'),
      SKILLS_DIR: join(dir, 'skills'),
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  return { ...started, url: started.match[1].replace('localhost', '127.0.0.1') };
}

/** Whether tmux is on PATH: the scenarios that start agents skip without it. */
export function hasTmux() {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The server's environment for its local runner (host `bench`) on the private tmux socket `socket`. */
export const localRunnerEnv = (socket, agentCommand) => ({
  MAESTRO_TOKEN: '',
  MAESTRO_LOCAL_RUNNER: '1',
  MAESTRO_HOST_NAME: 'bench',
  MAESTRO_TMUX_SOCKET: socket,
  MAESTRO_AGENT_COMMAND: agentCommand,
  TICKS: '1',
});

/** Ends a scenario's private tmux server (the agents left in it) and removes its socket file. */
export function endTmux(socket) {
  try {
    execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // no agent was left
  }
  rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid()}`, socket), { force: true });
}

/** A JSON call to a server. */
export async function call(url, method, path, body) {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * Writes a data directory as the server stores it: `projects` projects of `tasksPerProject` tasks each (a task is
 * about 600 bytes on disk, with a 200-character description), plus one session per project. `from` numbers the
 * projects on from there, to grow a directory written before.
 */
export function writeDataDir(data, { projects, tasksPerProject, from = 0 }) {
  const write = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  let now = Date.now() - 1e8 + from * (tasksPerProject + 1);
  for (const kind of ['projects', 'tasks', 'sessions', 'queues', 'templates']) mkdirSync(join(data, kind), { recursive: true });
  const projectIds = [];
  for (let p = from; p < from + projects; p++) {
    const projectId = `proj_${now}_p${p}`;
    projectIds.push(projectId);
    write(join(data, 'projects', `${projectId}.json`), {
      id: projectId,
      name: `Project ${p}`,
      workingDir: `/src/p${p}`,
      description: '',
      createdAt: now,
      updatedAt: now,
    });
    mkdirSync(join(data, 'tasks', projectId));
    let first;
    for (let t = 0; t < tasksPerProject; t++) {
      const id = `task_${++now}_t${p}x${t}`;
      first ??= id;
      write(join(data, 'tasks', projectId, `${id}.json`), {
        id,
        projectId,
        parentId: t > 0 ? first : null,
        title: `Task ${t} of project ${p}`,
        description: 'x'.repeat(200),
        status: 'todo',
        priority: 'medium',
        createdAt: now,
        updatedAt: now,
        startedAt: null,
        completedAt: null,
        initialPrompt: '',
        sessionIds: [],
        skillIds: [],
        agentIds: [],
        dependencies: [],
      });
    }
    const sessionId = `sess_${++now}_s${p}`;
    write(join(data, 'sessions', `${sessionId}.json`), {
      id: sessionId,
      projectId,
      taskIds: [],
      name: `Session ${p}`,
      env: {},
      strategy: 'simple',
      status: 'idle',
      startedAt: now,
      lastActivity: now,
      completedAt: null,
      hostname: 'bench',
      platform: 'linux',
      events: [],
      timeline: [{ id: `evt_${now}_a`, type: 'session_started', timestamp: now, message: 'Session created' }],
    });
  }
  return projectIds;
}

/**
 * Closed-loop HTTP load: `connections` keep-alive connections, each sending the next request as soon as the last
 * answer is read, for `seconds`. The body is read and thrown away, or handed parsed to `onBody`. Returns requests/s
 * and latency quantiles (ms). Light on the client's CPU (node:http, not fetch), which shares the machine.
 */
export async function httpLoad(url, { path, method = 'GET', body, headers = {}, connections = 8, seconds = 3, next, onBody }) {
  const target = new URL(path, url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const one = (i) =>
    new Promise((resolve) => {
      const started = performance.now();
      const payload = typeof next === 'function' ? next(i) : body;
      const req = request(
        target,
        { agent, method, headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers } },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => onBody && chunks.push(chunk));
          res.on('end', () => {
            if (res.statusCode >= 400) errors++;
            latencies.push(performance.now() - started);
            if (onBody && res.statusCode < 400) onBody(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(payload === undefined ? undefined : JSON.stringify(payload));
    });
  const t0 = performance.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) await one(n++);
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsed,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    count: latencies.length,
    errors,
  };
}
