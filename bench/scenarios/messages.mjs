// Messages (contract §16): 10 sessions sending at once (every answered send on disk first), against the
// durable-writes floor; send → printed by the receiver's `maestro inbox --watch --json` in its own process; and an
// inbox of 10,000 messages (files written before startup): a dashboard's read, the receiver's first read (which
// takes delivery of all of them: it must write a handful of files, not one per message) and its later reads.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { diskDir, median, quantile, startChild, startMaestro } from '../lib/harness.mjs';

export const name = 'messages';

const SENDERS = 10;
const INBOX = 10_000;
const PROJECT = 'proj_bench';

export async function run({ root, quick, rounds, bench }) {
  const dir = diskDir('maestro-bench-messages-');
  let server, watcher, floorServer;
  try {
    writeData(join(dir, 'data'));
    server = await startMaestro(root, dir, { MAESTRO_MESSAGE_RATE: '0' });
    const post = sender(server.url);
    const seconds = quick ? 1.5 : 3;
    const m = { sends: [], floor: [] };
    for (let r = 0; r < rounds; r++) {
      m.sends.push(await sendLoad(post, seconds));
      const floor = await startChild(join(bench, 'floor/durable-writes.mjs'), [join(dir, 'floor'), String(seconds), '500'], {
        ready: /([\d.]+) writes\/s/,
      });
      m.floor.push(Number(floor.match[1]));
      await floor.stop();
    }
    const floorRate = median(m.floor);

    // Send → printed by `inbox --watch`, one message at a time at irregular intervals.
    await post('POST', '/api/sessions', { id: 'watcher', projectId: PROJECT, taskIds: [] });
    watcher = spawn(process.execPath, [join(root, 'dist/lib/cli/main.js'), 'inbox', '--watch', '--json'], {
      env: { ...process.env, MAESTRO_API_URL: server.url, MAESTRO_SESSION_ID: 'watcher', MAESTRO_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const printed = new Map();
    const waiting = new Map();
    createInterface({ input: watcher.stdout }).on('line', (line) => {
      const { id } = JSON.parse(line);
      printed.set(id, performance.now());
      waiting.get(id)?.();
    });
    const untilPrinted = (id) => (printed.has(id) ? Promise.resolve() : new Promise((r) => waiting.set(id, r)));
    // The first one also waits for the CLI to start: not measured.
    await untilPrinted((await post('POST', '/api/sessions/watcher/messages', { message: 'warm-up' }, 'sender0')).id);
    const watched = [];
    for (let i = 0; i < (quick ? 30 : 100); i++) {
      const started = performance.now();
      const { id } = await post('POST', '/api/sessions/watcher/messages', { message: `ping ${i}` }, 'sender0');
      await untilPrinted(id);
      watched.push(printed.get(id) - started);
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 50));
    }
    watched.sort((a, b) => a - b);

    // The big inbox, read to its last byte (not parsed: parsing is the reader's cost), against a bare server
    // sending the same bytes.
    const inboxUrl = `${server.url}/api/sessions/big/messages`;
    const bytes = Buffer.from(await (await fetch(inboxUrl)).arrayBuffer());
    if (JSON.parse(bytes).length !== INBOX) throw new Error(`expected ${INBOX} messages`);
    writeFileSync(join(dir, 'inbox.json'), bytes);
    floorServer = await startChild(join(bench, 'floor/http-server.mjs'), [join(dir, 'inbox.json')]);
    /** One read to its last byte, as session `from` when given (not parsed: parsing is the reader's cost). */
    const timedRead = async (url, from) => {
      const started = performance.now();
      await (await fetch(url, from && { headers: { 'x-session-id': from } })).arrayBuffer();
      return performance.now() - started;
    };
    const reads = [];
    const bareReads = [];
    for (let i = 0; i < (quick ? 5 : 21); i++) {
      reads.push(await timedRead(inboxUrl));
      bareReads.push(await timedRead(`${floorServer.match[1]}/`));
    }
    const entityFiles = () => filesWithTimes(join(dir, 'data'));
    const beforeFirst = entityFiles();
    const started = performance.now();
    const firstBytes = await (await fetch(inboxUrl, { headers: { 'x-session-id': 'big' } })).arrayBuffer();
    const firstOwnRead = performance.now() - started;
    const taken = JSON.parse(Buffer.from(firstBytes).toString('utf8'));
    if (taken.some((m) => m.status !== 'delivered')) throw new Error('the first read left a message undelivered');
    const filesWritten = [...entityFiles()].filter(([path, t]) => beforeFirst.get(path) !== t).length;
    const ownReads = [];
    for (let i = 0; i < (quick ? 5 : 21); i++) ownReads.push(await timedRead(inboxUrl, 'big'));

    const label = `send, ${SENDERS} sessions at once`;
    return [
      { scenario: `${label}: sends/s`, value: median(m.sends.map((x) => x.rps)), floor: floorRate, unit: '/s' },
      {
        scenario: `${label}: p99`,
        value: median(m.sends.map((x) => x.p99)),
        floor: 1000 / floorRate,
        unit: 'ms',
        target: '< 100 ms',
        met: median(m.sends.map((x) => x.p99)) < 100,
      },
      { scenario: 'send → printed by inbox --watch: p50', value: quantile(watched, 0.5), unit: 'ms' },
      { scenario: 'send → printed by inbox --watch: p99', value: quantile(watched, 0.99), unit: 'ms' },
      {
        scenario: `read an inbox of ${INBOX.toLocaleString('en')} (dashboard): p50`,
        value: median(reads),
        floor: median(bareReads),
        unit: 'ms',
        target: '< 50 ms',
        met: median(reads) < 50,
      },
      { scenario: `the receiver's first read of it (takes delivery)`, value: firstOwnRead, unit: 'ms' },
      { scenario: '… entity files it wrote', value: filesWritten, unit: '', target: '≤ 10', met: filesWritten <= 10 },
      { scenario: `the receiver's later reads (nothing pending): p50`, value: median(ownReads), unit: 'ms' },
    ];
  } finally {
    watcher?.kill('SIGTERM');
    await server?.stop();
    await floorServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every `.json` file under `data` (entities; not the journal or the event log) with its modification time and size. */
function filesWithTimes(data) {
  return new Map(
    readdirSync(data, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.json'))
      .map((e) => {
        const st = statSync(join(e.parentPath, e.name));
        return [join(e.parentPath, e.name), `${st.mtimeMs}/${st.size}/${st.ino}`];
      }),
  );
}

/** A JSON call, sent as session `from` (the X-Session-ID header) when given. */
const sender = (url) => async (method, path, body, from) => {
  const res = await fetch(url + path, {
    method,
    body: body && JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(from && { 'x-session-id': from }) },
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};

/** Every sender sends to `receiver` as soon as its last send is answered, for `seconds`. */
async function sendLoad(post, seconds) {
  const latencies = [];
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: SENDERS }, async (_, i) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const started = performance.now();
        await post('POST', '/api/sessions/receiver/messages', { message: `from ${i}: ${n}` }, `sender${i}`);
        latencies.push(performance.now() - started);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / elapsed, p99: quantile(latencies, 0.99) };
}

/** The project, its sessions, and the big inbox as the server would have written it: one file per message. */
function writeData(data) {
  const write = (path, value) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  };
  write(join(data, 'projects', `${PROJECT}.json`), {
    id: PROJECT,
    name: 'Bench',
    workingDir: '',
    description: '',
    createdAt: 1,
    updatedAt: 1,
  });
  for (const id of ['big', 'receiver', ...Array.from({ length: SENDERS }, (_, i) => `sender${i}`)]) {
    write(join(data, 'sessions', `${id}.json`), {
      id,
      projectId: PROJECT,
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
      metadata: { role: 'orchestrator' },
    });
  }
  const now = Date.now();
  for (let i = 0; i < INBOX; i++) {
    const id = `msg_${now - INBOX + i}_b${i}`;
    write(join(data, 'messages', 'by-receiver', 'big', `${id}.json`), {
      id,
      from: 'user',
      to: 'big',
      projectId: PROJECT,
      message: `Message ${i}: ${'lorem ipsum '.repeat(8)}`,
      status: 'pending',
      createdAt: now - INBOX + i,
      deliveredAt: null,
      readAt: null,
      expiresAt: null,
      metadata: { priority: 'medium', requiresAck: false },
    });
  }
}
