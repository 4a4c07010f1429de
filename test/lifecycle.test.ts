import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseConfig } from '../lib/config.js';
import { runToExit, type ServerProcess, startServerProcess, startTestServer, tempDir, testEnv } from './helpers.js';

/** The server process (contract §10, §11): configuration errors, paths, graceful shutdown, a busy port. */

// Servers and processes started through helpers.ts are stopped by it; these are the ones opened here.
const sockets = new Set<WebSocket>();
const blockers = new Set<Server>();
afterAll(() => {
  sockets.forEach((ws) => ws.terminate());
  blockers.forEach((b) => b.close());
});

/** Variables inherited from the environment running the tests must not change what is tested. */
const CLEAN = { HOST: '', MAESTRO_TOKEN: '', MAESTRO_ALLOW_INSECURE: '', CORS_ORIGINS: '', DEBUG: '' };

async function boot(env: Record<string, string>) {
  const p: ServerProcess = await startServerProcess({ ...CLEAN, ...env, LOG_LEVEL: 'info' });
  return { ...p, base: p.url.replace('//localhost:', '//127.0.0.1:') };
}

async function createProject(base: string, name: string) {
  const res = await fetch(`${base}/api/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; name: string };
}

describe('configuration of runners and the event log', () => {
  it.each([
    ['MAESTRO_HOST_NAME', '../evil'],
    ['MAESTRO_HOST_NAME', 'a'.repeat(65)],
    ['MAESTRO_AGENT', 'robot'],
    ['MAESTRO_EVENT_RETENTION_DAYS', 'forever'],
    ['MAESTRO_EVENT_RETENTION_BYTES', '1GB'],
    ['MAESTRO_EVENT_RETENTION_BYTES', '1000'],
    ['MAESTRO_LOCAL_RUNNER', 'nope'],
  ])('%s=%s is refused with a message naming the variable', (name, value) => {
    expect(() => parseConfig(testEnv({ [name]: value }))).toThrow(new RegExp(name));
  });

  it('takes valid values', () => {
    const config = parseConfig(testEnv({ MAESTRO_HOST_NAME: 'build-box.1', MAESTRO_AGENT: 'codex', MAESTRO_EVENT_RETENTION_DAYS: '0.5' }));
    expect([config.hostName, config.agent, config.eventRetentionDays]).toEqual(['build-box.1', 'codex', 0.5]);
    expect(config.eventRetentionBytes).toBe(1024 ** 3);
    expect(parseConfig(testEnv({ MAESTRO_EVENT_RETENTION_BYTES: '5000000' })).eventRetentionBytes).toBe(5_000_000);
  });

  it('reads MAESTRO_LOCAL_RUNNER the way it is meant: false, off and no turn the local runner off', () => {
    const localRunner = (value: string) => parseConfig(testEnv({ MAESTRO_LOCAL_RUNNER: value })).localRunner;
    expect(['0', 'false', 'False', 'off', 'no', ' 0 '].map(localRunner)).toEqual([false, false, false, false, false, false]);
    expect(['', '1', 'true', 'on', 'YES'].map(localRunner)).toEqual([true, true, true, true, true]);
  });
});

describe('configuration errors', () => {
  it.each([
    ['PORT', 'abc', /PORT/],
    ['PORT', '70000', /PORT/],
    ['PORT', '-1', /PORT/],
    ['PORT', '80.5', /PORT/],
    ['PORT', '0x50', /PORT/],
    ['LOG_LEVEL', 'verbose', /LOG_LEVEL/],
    ['NODE_ENV', 'staging', /NODE_ENV/],
  ])('%s=%s → exit 1 with a message naming the variable', async (name, value, pattern) => {
    const { code, stdout, stderr } = await runToExit({ ...CLEAN, ...testEnv({ [name]: value }) });
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(pattern);
    expect(stderr).toContain(`"${value}"`);
    expect(stderr).not.toMatch(/at .+\.js:\d+/); // a message for a person, not a stack trace
    expect(stdout + stderr).not.toMatch(/listening on/);
  });
});

describe('data directory', () => {
  it('that is a file: exit 1 with a message naming DATA_DIR, not a stack trace', async () => {
    const file = join(tempDir('maestro-file-'), 'not-a-directory');
    writeFileSync(file, 'x');
    const { code, stdout, stderr } = await runToExit({ ...CLEAN, ...testEnv({ DATA_DIR: file }) });
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(`DATA_DIR ${file}`);
    expect(stderr).not.toMatch(/at .+\.js:\d+/);
    expect(stdout + stderr).not.toMatch(/listening on/);
  });

  // Node 20's recursive mkdir loops for ever where a parent exists but takes no new entries (ENOENT under /proc).
  it.runIf(existsSync('/proc/self'))('that cannot be created under an existing parent: exit 1 at once, not a hang', async () => {
    const dir = `/proc/maestro-test-${process.pid}/data`;
    const { code, stderr } = await runToExit({ ...CLEAN, ...testEnv({ DATA_DIR: dir }) });
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(`DATA_DIR ${dir} cannot be used: ENOENT`);
  });

  it('expands a leading ~ in DATA_DIR against HOME', async () => {
    const home = tempDir('maestro-home-');
    const server = await boot(testEnv({ HOME: home, DATA_DIR: '~/state/maestro-data' }));
    const dataDir = join(home, 'state', 'maestro-data');
    expect(server.output()).toContain(dataDir);
    const project = await createProject(server.base, 'Tilde');
    expect(JSON.parse(readFileSync(join(dataDir, 'projects', `${project.id}.json`), 'utf8'))).toMatchObject({ name: 'Tilde' });
    expect(existsSync(join(process.cwd(), '~'))).toBe(false);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('defaults to ~/.maestro/data', async () => {
    const home = tempDir('maestro-home-');
    const server = await boot(testEnv({ HOME: home, DATA_DIR: '' }));
    const dataDir = join(home, '.maestro', 'data');
    for (const kind of ['projects', 'tasks', 'sessions', 'queues', 'templates']) expect(existsSync(join(dataDir, kind)), kind).toBe(true);
    const project = await createProject(server.base, 'Default');
    expect(existsSync(join(dataDir, 'projects', `${project.id}.json`))).toBe(true);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('on %s: closes every WebSocket, then exits 0', async (signal) => {
    const server = await boot(testEnv());
    const open = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${server.base.replace(/^http/, 'ws')}/ws`);
        sockets.add(ws);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const clients = [await open(), await open()];
    const closes = clients.map(
      (ws) =>
        new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('socket not closed within 5 s')), 5000);
          ws.once('close', (code) => {
            clearTimeout(timer);
            resolve(code);
          });
        }),
    );
    // A kept-alive HTTP connection must not hold the shutdown open either.
    await createProject(server.base, 'Before shutdown');
    const status = (await fetch(`${server.base}/ws-status`).then((r) => r.json())) as { connectedClients: number };
    expect(status.connectedClients).toBe(2);

    server.proc.kill(signal);
    const codes = await Promise.all(closes);
    // 1006 would mean the connection just dropped; the server sends a close frame.
    for (const code of codes) expect(code).not.toBe(1006);
    expect(await server.exited).toBe(0);
  });
});

describe('shutdown with a request still coming in', () => {
  it('ends what is still open once the services closed, instead of waiting on it', async () => {
    const server = await startTestServer();
    // A client that reconnected during the shutdown and sends its body slowly: its request is not idle.
    const client = connect(server.port, '127.0.0.1');
    await once(client, 'connect');
    const ended = once(client, 'close');
    client.write('POST /api/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na');
    // Before: close() waited for the rest of that body, past the 5 s a signal gives the shutdown (exit 1).
    await server.close();
    await ended;
    expect(client.destroyed).toBe(true);
  });
});

describe('port already in use', () => {
  it('exits 1 with a clear message', async () => {
    const blocker = createServer();
    blockers.add(blocker);
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    const env: Record<string, string> = { ...CLEAN, ...testEnv({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' }) };
    const { code, stderr } = await runToExit(env);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(new RegExp(`port ${port} is already in use`));
    expect(stderr).not.toMatch(/listening on/);

    // It closed its store as a stop does: no lock, no temporary file, nothing for the next start to recover.
    expect(readdirSync(env.DATA_DIR!).filter((name) => name.startsWith('.'))).toEqual([]);
    const next = await boot({ ...env, PORT: '0' });
    next.proc.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(next.output()).not.toMatch(/WARN/);
  });
});
