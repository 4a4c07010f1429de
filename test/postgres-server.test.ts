import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runToExit, startServerProcess, testEnv, unusedLoopbackUrl } from './helpers.js';
import { freshDatabaseUrl, hasPostgres, openStore } from './postgres.js';

/** The server on PostgreSQL as a process (§10 DATABASE_TYPE/DATABASE_URL, §22.2): configuration, startup, restart. */

const CLEAN = { HOST: '', MAESTRO_TOKEN: '', MAESTRO_ALLOW_INSECURE: '', DATABASE_URL: '', DATABASE_TYPE: '' };

describe('database configuration errors', () => {
  it.each([
    [{ DATABASE_TYPE: 'mysql' }, /DATABASE_TYPE must be "file" or "postgres", got "mysql"/],
    [{ DATABASE_TYPE: 'postgres' }, /DATABASE_TYPE=postgres needs DATABASE_URL/],
    [{ DATABASE_URL: 'mysql://root:hunter2@db/maestro' }, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/],
    [{ DATABASE_URL: 'postgres://root:hunter2@[bad' }, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/],
  ])('%o → exit 1 with a message naming the variable, never the password', async (vars, pattern) => {
    const { code, stdout, stderr } = await runToExit({ ...CLEAN, ...testEnv(vars) });
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(pattern);
    expect(stdout + stderr).not.toContain('hunter2');
    expect(stdout + stderr).not.toMatch(/listening on/);
  });

  it('an unreachable database → exit 1 within 15 s, naming the host and the reason, never the password', async () => {
    const port = new URL(await unusedLoopbackUrl()).port;
    const { code, stdout, stderr } = await runToExit(
      { ...CLEAN, ...testEnv({ DATABASE_URL: `postgres://maestro:hunter2@127.0.0.1:${port}/team` }) },
      15_000,
    );
    expect(code).toBe(1);
    expect(stdout + stderr).toContain(`PostgreSQL at 127.0.0.1:${port}/team`);
    expect(stdout + stderr).toMatch(/ECONNREFUSED/);
    expect(stdout + stderr).not.toContain('hunter2');
  });

  it('DATABASE_TYPE=file keeps the file engine even when DATABASE_URL is set for something else', async () => {
    const env = testEnv({ DATABASE_TYPE: 'file', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    const server = await startServerProcess({ ...CLEAN, ...env, LOG_LEVEL: 'info' });
    expect(server.output()).toContain(`data in ${env.DATA_DIR}`);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

describe.skipIf(!hasPostgres)('a server on PostgreSQL', () => {
  it('creates its schema, keeps what it acknowledged across a restart, and writes no entity file', async () => {
    const url = await freshDatabaseUrl();
    const env = { ...CLEAN, ...testEnv({ DATABASE_URL: url }) };
    const first = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
    expect(first.output()).toMatch(/data in PostgreSQL at 127\.0\.0\.1:\d+\/maestro_/);
    const base = first.url.replace('//localhost:', '//127.0.0.1:');
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const project = (await (await post('/api/projects', { name: 'Team' })).json()) as { id: string };
    const task = (await (await post('/api/tasks', { projectId: project.id, title: 'Ship it' })).json()) as { id: string };
    first.proc.kill('SIGKILL');
    await first.exited;

    const second = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
    const again = second.url.replace('//localhost:', '//127.0.0.1:');
    const tasks = (await (await fetch(`${again}/api/tasks?projectId=${project.id}`)).json()) as { id: string; title: string }[];
    expect(tasks.map((t) => [t.id, t.title])).toEqual([[task.id, 'Ship it']]);
    const events = (await (await fetch(`${again}/api/events?since=0`)).json()) as { events: { seq: number; type: string }[] };
    expect(events.events.map((e) => e.type).filter((t) => !t.startsWith('template:'))).toEqual(['project:created', 'task:created']);
    const stored = await openStore(
      url,
    )`SELECT kind, count(*)::int AS n FROM maestro_entities WHERE kind IN ('projects', 'tasks') GROUP BY kind ORDER BY kind`;
    expect(stored).toEqual([
      { kind: 'projects', n: 1 },
      { kind: 'tasks', n: 1 },
    ]);
    for (const kind of ['projects', 'tasks']) {
      const dir = join((env as Record<string, string>).DATA_DIR!, kind);
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    }
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('a database outage under writes: the server stays up, /health answers 503 STORAGE_UNAVAILABLE, writes 500, and both recover', async () => {
    const url = await freshDatabaseUrl();
    const server = await startServerProcess({ ...CLEAN, ...testEnv({ DATABASE_URL: url }), LOG_LEVEL: 'info' });
    const base = server.url.replace('//localhost:', '//127.0.0.1:');
    const died = (error: any) => {
      throw new Error(`the server stopped answering (${error.cause?.code ?? error}); it said:\n${server.output().slice(-4000)}`);
    };
    const health = async () => {
      const res = await fetch(`${base}/health`).catch(died);
      return { status: res.status, body: (await res.json()) as any };
    };
    const until = async (status: number) => {
      for (let i = 0; i < 200 && (await health()).status !== status; i++) await new Promise((r) => setTimeout(r, 50));
      return health();
    };
    const create = async () =>
      (
        await fetch(`${base}/api/projects`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"name":"x"}',
        }).catch(died)
      ).status;
    expect((await health()).body.status).toBe('ok');
    // Writes keep coming while the database refuses new connections and drops the server's (a transaction in flight
    // loses its connection: the client library must not take the process down with it).
    let writing = true;
    const statuses: number[] = [];
    const writer = (async () => {
      while (writing) statuses.push(await create());
    })();
    await new Promise((r) => setTimeout(r, 100));
    const name = new URL(url).pathname.slice(1);
    const admin = openStore(Object.assign(new URL(url), { pathname: '/postgres', search: '' }).href);
    await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    try {
      await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`;
      const down = await until(503);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ error: true, code: 'STORAGE_UNAVAILABLE' });
      expect(down.body.message).toMatch(/^The database has not answered since \d{4}-\d\d-\d\dT.*; see the server log$/);
      expect(server.output()).toMatch(/Reading other instances' commits failed \(retrying\)/);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    }
    const up = await until(200);
    expect(up.body.status).toBe('ok');
    expect(server.output()).toContain('The database answers again');
    writing = false;
    await writer;
    expect(await create()).toBe(201);
    // Refused while the database was gone, accepted before and after; never anything else.
    expect(statuses).toContain(500);
    expect(statuses).toContain(201);
    expect(statuses.filter((s) => s !== 201 && s !== 500)).toEqual([]);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
