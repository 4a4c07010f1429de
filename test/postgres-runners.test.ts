import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Call, type ServerProcess, startServerProcess, tempDir, testEnv } from './helpers.js';
import { freshDatabaseUrl, hasPostgres, openStore } from './postgres.js';
import { SLOW, startRunner, until } from './runner-harness.js';

/**
 * Runners across instances (§22.2): a real `maestro host` connected to instance A, its agents spawned, typed into,
 * watched and stopped through instance B; its host name held once across the cluster; a replay asking for events
 * another instance pruned gets `resync`.
 */

const CLEAN = { HOST: '', MAESTRO_TOKEN: '', MAESTRO_ALLOW_INSECURE: '', DATABASE_TYPE: '' };

interface Instance extends ServerProcess {
  call: Call;
}

async function instance(url: string): Promise<Instance> {
  const p = await startServerProcess({ ...CLEAN, ...testEnv({ DATABASE_URL: url }), MAESTRO_LOCAL_RUNNER: '0' });
  const base = p.url.replace('//localhost:', '//127.0.0.1:');
  const call: Call = async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers } as any;
  };
  return { ...p, url: base, call };
}

const path = (id: string) => `/api/sessions/${id}`;

describe.skipIf(!hasPostgres)('runners across two instances on one database', SLOW, () => {
  it('a runner on A: spawn, input, terminal snapshot, live terminal and stop asked of B reach it; its name is held once', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = await Promise.all([instance(url), instance(url)]);
    const runner = startRunner(a.url, 'alpha');
    await until(b.call, '/api/hosts/alpha', (h) => h?.status === 'online');

    // The same name on the other instance is refused as on one instance.
    const twin = startRunner(b.url, 'alpha');
    expect(await twin.exited).toBe(1);
    expect(twin.output()).toContain('already connected as "alpha"');
    expect(runner.proc.exitCode).toBeNull();

    const workingDir = join(tempDir(), 'work');
    mkdirSync(workingDir);
    const project = (await b.call('POST', '/api/projects', { name: 'Routed', workingDir })).body;
    const task = (await b.call('POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
    const spawned = await b.call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      host: 'alpha',
      agent: 'custom',
    });
    expect(spawned.status).toBe(201);
    const id = spawned.body.sessionId;
    await until(b.call, `${path(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes('READY'));

    const ws = new WebSocket(`${b.url.replace(/^http/, 'ws')}${path(id)}/terminal`);
    let received = '';
    ws.on('message', (data) => (received += String(data)));
    await new Promise((r) => ws.once('open', r));
    const shows = async (text: string) => {
      for (let i = 0; !received.includes(text); i++) {
        if (i > 1500) throw new Error(`the terminal on B never showed ${text}; got ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await shows('READY');
    const input = await b.call('POST', `${path(id)}/input`, { text: 'via b' });
    expect([input.status, input.body]).toEqual([200, { success: true }]);
    await shows('ECHO:via b');
    ws.send('typed on b\r');
    await shows('ECHO:typed on b');
    ws.close();
    const snapshot = await b.call('GET', `${path(id)}/terminal`);
    expect(snapshot.status).toBe(200);
    expect(snapshot.body).toMatchObject({ host: 'alpha', alive: true });
    expect(snapshot.body.text).toContain('ECHO:typed on b');

    const stopped = await b.call('POST', `${path(id)}/stop`, { reason: 'from b' });
    expect(stopped.body).toMatchObject({ status: 'stopped' });
    // The runner ends the agent: its tmux window goes, so the terminal answers "not alive".
    await until(a.call, `${path(id)}/terminal`, (t) => t?.code === 'SESSION_NOT_RUNNING' || t?.alive === false);

    // Once the runner leaves A, B sees the host offline, and another runner may take the name on B.
    runner.proc.kill('SIGTERM');
    await runner.exited;
    await until(b.call, '/api/hosts/alpha', (h) => h?.status === 'offline');
    startRunner(b.url, 'alpha');
    await until(a.call, '/api/hosts/alpha', (h) => h?.status === 'online');
  });

  it('a replay asking for events another instance pruned gets resync', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = await Promise.all([instance(url), instance(url)]);
    for (let i = 0; i < 5; i++) await a.call('POST', '/api/projects', { name: `p${i}` });
    // What another instance's retention does: the oldest events leave the shared log.
    await openStore(url)`DELETE FROM maestro_events WHERE seq <= 3`;
    // B notices on its next poll; a client asking from before the cut gets resync, not a silent gap.
    const frames = await until(b.call, '/api/health', () => true).then(async () => {
      for (let i = 0; ; i++) {
        const got = await firstFrame(`${b.url.replace(/^http/, 'ws')}/ws?since=1`);
        if (got.type === 'resync' || i > 100) return got;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    expect(frames).toMatchObject({ type: 'resync', oldestSeq: 4 });
  });
});

function firstFrame(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'connected') return;
      ws.close();
      resolve(frame);
    });
    ws.on('error', reject);
  });
}
