// Messages benchmark (contract §16): starts the compiled server as its own process on a free loopback port, then
//  1. 10 sessions send concurrently for a fixed time: send latency (every answered send is on disk first);
//  2. the receiver runs `maestro inbox --watch --json` in its own process: send → printed latency;
//  3. an inbox of 10,000 messages (files written before startup, loaded like any data): read latency.
// Usage: npm run build && node bench/messages.mjs [seconds=5] [senders=10]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [seconds = 5, senders = 10] = process.argv.slice(2).map(Number);
const INBOX = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'maestro-bench-'));
const dataDir = join(dir, 'data');

// The big inbox, written as the server would have: one file per message under the receiver.
const project = { id: 'proj_bench', name: 'Bench', workingDir: '', description: '', createdAt: 1, updatedAt: 1 };
const session = (id, role) => ({
  id,
  projectId: project.id,
  taskIds: [],
  name: id,
  env: {},
  strategy: 'simple',
  status: 'working',
  startedAt: 1,
  lastActivity: 1,
  completedAt: null,
  hostname: 'bench',
  platform: process.platform,
  events: [],
  timeline: [],
  metadata: { role },
});
const write = (path, value) => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
};
write(join(dataDir, 'projects', `${project.id}.json`), project);
for (const id of ['big', 'receiver', ...Array.from({ length: senders }, (_, i) => `sender${i}`)]) {
  write(join(dataDir, 'sessions', `${id}.json`), session(id, 'orchestrator'));
}
const now = Date.now();
for (let i = 0; i < INBOX; i++) {
  const id = `msg_${now - INBOX + i}_b${i}`;
  write(join(dataDir, 'messages', 'by-receiver', 'big', `${id}.json`), {
    id,
    from: 'user',
    to: 'big',
    projectId: project.id,
    message: `Message ${i}: ${'lorem ipsum '.repeat(8)}`,
    status: 'pending',
    createdAt: now - INBOX + i,
    deliveredAt: null,
    readAt: null,
    expiresAt: null,
    metadata: { priority: 'medium', requiresAck: false },
  });
}

const server = spawn(process.execPath, ['dist/lib/main.js'], {
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    SESSION_DIR: join(dir, 's'),
    SKILLS_DIR: join(dir, 'k'),
    LOG_LEVEL: 'info',
    MAESTRO_MESSAGE_RATE: '0',
  },
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

const call = async (method, path, body, sessionId) => {
  const res = await fetch(url + path, {
    method,
    body: body && JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(sessionId && { 'x-session-id': sessionId }) },
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1);
  return `p50 ${q(0.5)}, p90 ${q(0.9)}, p99 ${q(0.99)}, max ${q(1)} ms`;
};

try {
  // 1. Concurrent senders.
  const sends = [];
  const deadline = Date.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async (_, i) => {
      for (let n = 0; Date.now() < deadline; n++) {
        const started = performance.now();
        await call('POST', '/api/sessions/receiver/messages', { message: `from ${i}: ${n}` }, `sender${i}`);
        sends.push(performance.now() - started);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  console.log(
    `send: ${sends.length} durable sends in ${elapsed.toFixed(1)} s from ${senders} concurrent sessions (${(sends.length / elapsed).toFixed(0)}/s): ${stats(sends)}`,
  );

  // 2. Send → printed by the receiver's `maestro inbox --watch`.
  const watcher = spawn(process.execPath, ['dist/lib/cli/main.js', 'inbox', '--watch', '--json'], {
    env: { ...process.env, MAESTRO_API_URL: url, MAESTRO_SESSION_ID: 'watcher' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await call('POST', '/api/sessions', { id: 'watcher', projectId: project.id, taskIds: [] });
  const sentAt = new Map();
  const seen = [];
  const lines = createInterface({ input: watcher.stdout });
  let onLine;
  lines.on('line', (line) => {
    const m = JSON.parse(line);
    if (sentAt.has(m.id)) seen.push(performance.now() - sentAt.get(m.id));
    onLine?.();
  });
  await new Promise((r) => setTimeout(r, 1500)); // the CLI has started and polls
  for (let i = 0; i < 100; i++) {
    const started = performance.now();
    const printed = new Promise((r) => (onLine = r));
    const m = await call('POST', '/api/sessions/watcher/messages', { message: `ping ${i}` }, 'sender0');
    sentAt.set(m.id, started);
    await printed;
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 50));
  }
  watcher.kill('SIGTERM');
  console.log(`send → inbox --watch printed: ${seen.length} messages: ${stats(seen)}`);

  // 3. The inbox of 10,000 messages: a dashboard's read (no side effects), then the receiver's own first read.
  const reads = [];
  for (let i = 0; i < 21; i++) {
    const started = performance.now();
    const list = await call('GET', '/api/sessions/big/messages');
    reads.push(performance.now() - started);
    if (list.length !== INBOX) throw new Error(`expected ${INBOX}, got ${list.length}`);
  }
  console.log(`read an inbox of ${INBOX} (as a dashboard): ${stats(reads)}`);
  let started = performance.now();
  await call('GET', '/api/sessions/big/messages', undefined, 'big');
  console.log(`the receiver's first read of it (takes delivery: ${INBOX} files rewritten): ${(performance.now() - started).toFixed(0)} ms`);
  const own = [];
  for (let i = 0; i < 21; i++) {
    started = performance.now();
    await call('GET', '/api/sessions/big/messages', undefined, 'big');
    own.push(performance.now() - started);
  }
  console.log(`its later reads (nothing pending): ${stats(own)}`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
