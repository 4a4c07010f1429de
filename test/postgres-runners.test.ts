import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Call, type ServerProcess, startServerProcess, tempDir, testEnv, until } from './helpers.js';
import { freshDatabaseUrl, hasPostgres, openStore } from './postgres.js';
import { SLOW, startRunner } from './runner-harness.js';
import { git, makeRepo, spawnAndWait, startRunner as startWorktreeRunner } from './worktree-helpers.js';

/**
 * Runners across instances (§22.2): a real `maestro host` connected to instance A, its agents spawned, typed into,
 * watched and stopped through instance B; its host name held once across the cluster; a replay asking for events
 * another instance pruned gets `resync`.
 */

/** The cluster's shared token: it also seals runner mail between the instances (§23 hygiene). */
const TOKEN = 'cluster-admin-token-for-the-runner-test';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const CLEAN = { HOST: '', MAESTRO_TOKEN: TOKEN, MAESTRO_ALLOW_INSECURE: '', DATABASE_TYPE: '' };

interface Instance extends ServerProcess {
  call: Call;
}

async function instance(url: string): Promise<Instance> {
  // At `info`, the server says where it listens (testEnv's `error` would leave startServerProcess waiting for it).
  const p = await startServerProcess({ ...CLEAN, ...testEnv({ DATABASE_URL: url, LOG_LEVEL: 'info' }), MAESTRO_LOCAL_RUNNER: '0' });
  const base = p.url.replace('//localhost:', '//127.0.0.1:');
  const call: Call = async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? AUTH : { ...AUTH, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers } as any;
  };
  return { ...p, url: base, call };
}

const path = (id: string) => `/api/sessions/${id}`;

/** `promise`, or a failure naming `what` after `ms`: every wait in this file is bounded, so a fault fails fast. */
function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Runs `test`; when it fails, the error carries what each server logged (the way to see why across processes). */
async function withLogs(servers: Instance[], test: () => Promise<void>) {
  try {
    await test();
  } catch (error) {
    const logs = servers.map((s, i) => `--- instance ${'AB'[i]} ---\n${s.output().slice(-4000)}`).join('\n');
    (error as Error).message += `\n${logs}`;
    throw error;
  }
}

describe.skipIf(!hasPostgres)('runners across two instances on one database', SLOW, () => {
  it('a runner on A: spawn, input, terminal snapshot, live terminal and stop asked of B reach it; its name is held once', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = await Promise.all([instance(url), instance(url)]);
    await withLogs([a, b], async () => {
      // Every mail row the instances write, kept by a trigger (the mailbox deletes rows as it reads them).
      const db = openStore(url);
      await db`CREATE TABLE mail_seen (body text)`;
      await db`CREATE FUNCTION keep_mail() RETURNS trigger AS $$ BEGIN INSERT INTO mail_seen VALUES (NEW.body::text); RETURN NEW; END $$ LANGUAGE plpgsql`;
      await db`CREATE TRIGGER keep_mail AFTER INSERT ON maestro_runner_mail FOR EACH ROW EXECUTE FUNCTION keep_mail()`;
      const runner = startRunner(a.url, 'alpha', { MAESTRO_TOKEN: TOKEN });
      await until(a.call, '/api/hosts/alpha', (h) => h?.status === 'online');
      await until(b.call, '/api/hosts/alpha', (h) => h?.status === 'online');

      // The same name on the other instance is refused as on one instance.
      const twin = startRunner(b.url, 'alpha', { MAESTRO_TOKEN: TOKEN });
      expect(await within(twin.exited, 'the second runner named alpha exiting')).toBe(1);
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
      const sessionToken = spawned.body.envVars.MAESTRO_SESSION_TOKEN;
      expect(sessionToken).toMatch(/\S{20,}/);
      await until(b.call, `${path(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes('READY'));

      const ws = new WebSocket(`${b.url.replace(/^http/, 'ws')}${path(id)}/terminal`, { headers: AUTH });
      let received = '';
      ws.on('message', (data) => (received += String(data)));
      await within(new Promise((r, reject) => ws.once('open', r).once('error', reject)), 'the live terminal on B opening');
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

      // The launch went from B to A through the mailbox, sealed: no row ever held the agent's token in the clear.
      const mail = (await db<{ body: string }[]>`SELECT body FROM mail_seen`).map((r) => r.body);
      expect(mail.length).toBeGreaterThan(0);
      for (const body of mail) {
        expect(Object.keys(JSON.parse(body))).toEqual(['sealed']);
        expect(body).not.toContain(sessionToken);
      }

      // Once the runner leaves A, B sees the host offline, and another runner may take the name on B.
      runner.proc.kill('SIGTERM');
      await within(runner.exited, 'the runner exiting on SIGTERM');
      await until(b.call, '/api/hosts/alpha', (h) => h?.status === 'offline');
      startRunner(b.url, 'alpha', { MAESTRO_TOKEN: TOKEN });
      await until(a.call, '/api/hosts/alpha', (h) => h?.status === 'online');
    });
  });

  it('a worktree runner on A: diff, merge and removal asked of B reach it (§20, §22.2)', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = await Promise.all([instance(url), instance(url)]);
    await withLogs([a, b], async () => {
      startWorktreeRunner(a.url, 'gamma', join(tempDir(), 'worktrees'), { MAESTRO_TOKEN: TOKEN });
      await until(b.call, '/api/hosts/gamma', (h) => h?.status === 'online');
      const repo = makeRepo();
      const project = (await b.call('POST', '/api/projects', { name: 'Routed repo', workingDir: repo })).body;
      const s = await spawnAndWait(b.call, project.id, 'Routed WT:work', { host: 'gamma', workspace: 'worktree' });
      expect(s.workspace).toMatchObject({ mode: 'worktree', state: 'active' });

      const diff = await b.call('GET', `${path(s.id)}/diff?stat=1`);
      expect(diff.status).toBe(200);
      expect(diff.body.files.map((f: { path: string }) => f.path)).toEqual(['README.md', 'feature.txt', 'notes.txt']);
      const merged = await b.call('POST', `${path(s.id)}/merge`, {});
      expect(merged.status).toBe(200);
      expect(git(repo, 'rev-parse', 'main')).toBe(merged.body.commit);
      const removed = await b.call('DELETE', `${path(s.id)}/workspace`);
      expect([removed.status, removed.body.workspace?.state]).toEqual([200, 'removed']);
      expect(existsSync(s.workspace.path)).toBe(false);
    });
  });

  it('an instance that dies while watching a terminal through another is forgotten: no more output is mailed to it', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = await Promise.all([instance(url), instance(url)]);
    await withLogs([a, b], async () => {
      const db = openStore(url);
      await db`CREATE TABLE mail_count (n int)`;
      await db`INSERT INTO mail_count VALUES (0)`;
      await db`CREATE FUNCTION count_mail() RETURNS trigger AS $$ BEGIN UPDATE mail_count SET n = n + 1; RETURN NEW; END $$ LANGUAGE plpgsql`;
      await db`CREATE TRIGGER count_mail AFTER INSERT ON maestro_runner_mail FOR EACH ROW EXECUTE FUNCTION count_mail()`;
      const mailed = async () => (await db<{ n: number }[]>`SELECT n FROM mail_count`)[0]!.n;
      startRunner(a.url, 'delta', { MAESTRO_TOKEN: TOKEN });
      await until(a.call, '/api/hosts/delta', (h) => h?.status === 'online');
      const workingDir = join(tempDir(), 'work');
      mkdirSync(workingDir);
      const project = (await a.call('POST', '/api/projects', { name: 'Watched', workingDir })).body;
      const task = (await a.call('POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
      const spawned = await a.call('POST', '/api/sessions/spawn', {
        projectId: project.id,
        taskIds: [task.id],
        host: 'delta',
        agent: 'custom',
      });
      const id = spawned.body.sessionId;
      await until(a.call, `${path(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes('READY'));
      // B watches the terminal through A: what the agent prints is mailed to B.
      const ws = new WebSocket(`${b.url.replace(/^http/, 'ws')}${path(id)}/terminal`, { headers: AUTH });
      let received = '';
      ws.on('message', (data) => (received += String(data)));
      await within(new Promise((r, reject) => ws.once('open', r).once('error', reject)), 'the live terminal on B opening');
      const echoed = async (text: string) => {
        expect((await a.call('POST', `${path(id)}/input`, { text })).status).toBe(200);
        await until(a.call, `${path(id)}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes(`ECHO:${text}`));
      };
      await echoed('while b watches');
      await expect.poll(() => received, { timeout: 10_000 }).toContain('ECHO:while b watches');
      b.proc.kill('SIGKILL');
      await b.exited;
      // Once A has noticed (its next poll), the agent's output is no longer mailed to anyone.
      for (let i = 0; ; i++) {
        const before = await mailed();
        await echoed(`after b died ${i}`);
        await new Promise((r) => setTimeout(r, 300));
        if ((await mailed()) === before) break;
        if (i === 20) throw new Error('A kept mailing terminal output to an instance that died');
      }
      // And what was left for B is gone from the mailbox.
      await expect.poll(async () => (await db`SELECT count(*)::int AS n FROM maestro_runner_mail`)[0]!.n, { timeout: 5_000 }).toBe(0);
    });
  });

  it('a replay asking for events another instance pruned gets resync', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = await Promise.all([instance(url), instance(url)]);
    await withLogs([a, b], async () => {
      for (let i = 0; i < 5; i++) expect((await a.call('POST', '/api/projects', { name: `p${i}` })).status).toBe(201);
      // What another instance's retention does: the oldest events leave the shared log.
      await openStore(url)`DELETE FROM maestro_events WHERE seq <= 3`;
      // B notices on its next poll: asking from before the cut is refused over HTTP (410) …
      const expired = await until(b.call, '/api/events?since=1', (body) => body?.code === 'EVENTS_EXPIRED');
      expect(expired.details).toMatchObject({ oldestSeq: 4 });
      // … and a WebSocket replay from there gets resync, not a silent gap.
      expect(await firstFrame(`${b.url.replace(/^http/, 'ws')}/ws?since=1`)).toMatchObject({ type: 'resync', oldestSeq: 4 });
    });
  });
});

/** The first frame a WebSocket receives (bounded). */
function firstFrame(url: string): Promise<any> {
  const ws = new WebSocket(url, { headers: AUTH });
  const frame = new Promise<any>((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data))));
    ws.once('error', reject);
  });
  return within(frame, `the first frame of ${url}`, 10_000).finally(() => ws.terminate());
}
