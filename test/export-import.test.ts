// `maestro-server export` / `import` (§22.2) through the compiled bin: file → file, file → PostgreSQL, PostgreSQL →
// file, each imported store served byte for byte as the source was; bad input and non-empty targets refused.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../lib/http/server.js';
import { createLogger } from '../lib/log.js';
import { KINDS } from '../lib/storage/engine.js';
import { runStoreCommand } from '../lib/store-commands.js';
import { fakeRunner } from './fake-runner.js';
import { onFileEnd, runToExit, SERVER_BIN, tempDir, testConfig } from './helpers.js';
import { freshDatabaseUrl, hasPostgres, openStore } from './postgres.js';

const TOKEN = 'admin-token-of-the-export-test';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** Where a store is: a data directory, or a PostgreSQL URL. */
type Store = { DATA_DIR: string } | { DATABASE_URL: string };
const storeEnv = (store: Store) =>
  'DATA_DIR' in store ? { DATA_DIR: store.DATA_DIR, DATABASE_URL: '' } : { ...store, DATA_DIR: tempDir() };

/** `maestro-server <args>` started as its own process on `store`; `done` resolves with its exit code and output. */
function startBin(args: string[], store: Store) {
  const env = { ...process.env, DATABASE_TYPE: '', LOG_LEVEL: '', MAESTRO_TOKEN: '', HOST: '', ...storeEnv(store) };
  const proc = spawn(process.execPath, [SERVER_BIN, ...args], { env, stdio: 'pipe' });
  onFileEnd(() => void (proc.exitCode === null && proc.kill('SIGKILL')));
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c) => (stdout += c));
  proc.stderr.on('data', (c) => (stderr += c));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { proc, done };
}

/** `maestro-server <args>` as its own process on `store`: its exit code and what it printed. */
const bin = (args: string[], store: Store) => startBin(args, store).done;

/** A real server on `store` (port 0), with a JSON client that answers the body's text as served. */
async function serve(store: Store) {
  const config = testConfig({ MAESTRO_TOKEN: TOKEN, MAESTRO_MESSAGE_RATE: '0', ...storeEnv(store) });
  const server = await startServer(config, createLogger('error'));
  onFileEnd(() => server.close());
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
  };
  return { ...server, call };
}
type Server = Awaited<ReturnType<typeof serve>>;

/** Fills a store with every kind: tasks with dependencies and claims, sessions with timelines and history, messages. */
async function populate(server: Server) {
  const runner = await fakeRunner(server.url, { headers: AUTH });
  runner.hello();
  await runner.next('welcome');
  const project = (await server.call('POST', '/api/projects', { name: 'Portable', workingDir: tempDir() })).body;
  const task = async (title: string, extra: object = {}) =>
    (await server.call('POST', '/api/tasks', { projectId: project.id, title, ...extra })).body;
  const design = await task('Design');
  const build = await task('Build', { dependencies: [design.id] });
  const child = await task('Child', { parentId: design.id, priority: 'high' });
  await task('Later', { dependencies: [build.id] });
  const spawned = await server.call('POST', '/api/sessions/spawn', {
    projectId: project.id,
    taskIds: [child.id],
    host: 'fleet',
    agent: 'claude',
  });
  expect(spawned.status, spawned.text).toBe(201);
  const launch = await runner.next('launch');
  runner.send({ type: 'started', sessionId: launch.sessionId, pid: 4242 });
  const worker: string = spawned.body.sessionId;
  const sessionToken: string = spawned.body.envVars.MAESTRO_SESSION_TOKEN;
  const queued = await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [build.id], strategy: 'queue' });
  const receiver: string = queued.body.sessionId;
  // Over 100 timeline entries: the oldest move to the session's history.
  for (let i = 0; i < 104; i++) await server.call('POST', `/api/sessions/${worker}/timeline`, { message: `step ${i}`, type: 'progress' });
  expect((await server.call('POST', `/api/tasks/${design.id}/claim`, { sessionId: worker })).status).toBe(200);
  // Enough messages for the receiver's read to take delivery in bulk (a delivery mark), and one read singly.
  const from = { ...AUTH, 'x-session-id': worker };
  for (let i = 0; i < 70; i++) await server.call('POST', `/api/sessions/${receiver}/messages`, { message: `note ${i}` }, from);
  expect((await server.call('GET', `/api/sessions/${receiver}/messages`, undefined, { ...AUTH, 'x-session-id': receiver })).status).toBe(
    200,
  );
  const single = (
    await server.call('POST', `/api/sessions/${worker}/messages`, { message: 'reply' }, { ...AUTH, 'x-session-id': receiver })
  ).body;
  await server.call('PATCH', `/api/messages/${single.id}`, { status: 'read' });
  const person = (await server.call('POST', '/api/tokens', { name: 'Ada', role: 'member' })).body;
  runner.ws.close();
  return {
    project: project.id,
    tasks: [design.id, build.id, child.id],
    worker,
    receiver,
    sessionToken,
    personToken: person.token as string,
  };
}
type Populated = Awaited<ReturnType<typeof populate>>;

/** Every list route (and a few single ones) as served: the text of each answer. */
async function served(server: Server, p: Populated): Promise<Record<string, string>> {
  const paths = [
    '/api/projects',
    `/api/projects/${p.project}`,
    '/api/tasks',
    `/api/tasks?projectId=${p.project}`,
    `/api/tasks/${p.tasks[0]}/children`,
    `/api/tasks/next?projectId=${p.project}`,
    '/api/sessions',
    `/api/sessions/${p.worker}`,
    `/api/sessions/${p.worker}/timeline`,
    `/api/sessions/${p.worker}/messages`,
    `/api/sessions/${p.receiver}/messages?status=pending,delivered,read`,
    `/api/sessions/${p.receiver}/queue`,
    '/api/templates',
    '/api/hosts',
    '/api/hosts/fleet',
    '/api/tokens',
    '/api/events?since=0&limit=1000',
  ];
  const out: Record<string, string> = {};
  for (const path of paths) {
    const answer = await server.call('GET', path);
    expect(answer.status, `${path}: ${answer.text}`).toBe(200);
    out[path] = answer.text;
  }
  return out;
}

const records = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');

describe('maestro-server export and import', () => {
  const source = { DATA_DIR: join(tempDir(), 'data') };
  let populated: Populated;
  let expected: Record<string, string>;
  let lastSeq: number;
  const dump = join(tempDir(), 'store.jsonl');

  it('refuses to export a file store a server is running on, and exports it once the server stopped', async () => {
    const server = await serve(source);
    populated = await populate(server);
    const live = await bin(['export'], source);
    expect(live.code).toBe(1);
    expect(live.stderr).toMatch(/in use by another Maestro server .*Stop that server first/);
    expect(live.stdout).toBe('');
    const refusedOut = await bin(['export', '--out', dump], source);
    expect(refusedOut.code).toBe(1);
    expect(readdirSync(join(dump, '..'))).toEqual([]);
    await server.close();

    const again = await serve(source);
    expected = await served(again, populated);
    await again.close();
    const exported = await bin(['export', '--out', dump], source);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe('');
    const lines = records(dump);
    const header = JSON.parse(lines[0]!);
    expect(header).toMatchObject({ maestroExport: 1, engine: 'file', oldestSeq: 1 });
    lastSeq = header.lastSeq;
    expect(lastSeq).toBeGreaterThan(100);
    // Every kind the store keeps: a kind added later must be carried (and populated above) too.
    for (const kind of KINDS) {
      expect(header.counts[kind], kind).toBeGreaterThan(0);
    }
    expect(header.counts.events).toBe(lastSeq);
    expect(JSON.parse(lines.at(-1)!)).toEqual({ end: true, records: lines.length - 2 });
    expect(exported.stderr).toContain(`Exported ${lines.length - 2} records from ${source.DATA_DIR}`);
    expect(exported.stderr).toContain(`last seq ${lastSeq}`);
    // No temporary file is left beside the export; stdout gives the same lines.
    expect(readdirSync(join(dump, '..'))).toEqual(['store.jsonl']);
    const toStdout = await bin(['export'], source);
    expect(toStdout.stdout.split('\n').slice(1)).toEqual(`${readFileSync(dump, 'utf8')}`.split('\n').slice(1));
  });

  it('export | head: ends quietly and leaves the store as it found it (no lock for the next start to take over)', async () => {
    const { proc, done } = startBin(['export'], source);
    proc.stdout.destroy(); // the reader is gone before the first line: every write fails with EPIPE
    const cut = await done;
    expect(cut).toMatchObject({ code: 0, stderr: '' });
    // Before: it exited at the first failed write, its lock still on disk.
    expect(readdirSync(source.DATA_DIR).filter((name) => name.startsWith('.'))).toEqual([]);
    const next = await bin(['export', '--out', join(tempDir(), 'after.jsonl')], source);
    expect(next.code).toBe(0);
    expect(next.stderr).not.toMatch(/WARN|lock/);
  });

  it('Ctrl-C during export --out: exit 130, no partial or temporary file, the store unlocked', async () => {
    const outDir = tempDir();
    const stop = new AbortController();
    stop.abort('SIGINT'); // as if Ctrl-C came while the store was loading: the export stops at its first write
    const env = { ...process.env, DATABASE_TYPE: '', DATABASE_URL: '', LOG_LEVEL: '', DATA_DIR: source.DATA_DIR };
    const code = await runStoreCommand(['export', '--out', join(outDir, 'backup.jsonl')], env, stop.signal);
    expect(code).toBe(130);
    // Before: the signal's default action left `.backup.jsonl.<pid>.tmp` here and the store's lock in DATA_DIR.
    expect(readdirSync(outDir)).toEqual([]);
    expect(readdirSync(source.DATA_DIR).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  /** Imports the dump into `store`, serves it, and checks it serves what the source served, and goes on after it. */
  async function importAndCompare(file: string, store: Store) {
    const imported = await bin(['import', file], store);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain(`events continue after seq ${lastSeq}`);
    const server = await serve(store);
    const got = await served(server, populated);
    for (const path of Object.keys(expected)) expect(got[path], path).toBe(expected[path]);
    // A person's token and a session's token made before the export still work.
    const me = await server.call('GET', '/api/me', undefined, { authorization: `Bearer ${populated.personToken}` });
    expect(me.status, me.text).toBe(200);
    expect(me.body).toMatchObject({ role: 'member' });
    const asSession = await server.call('GET', `/api/sessions/${populated.worker}`, undefined, {
      authorization: `Bearer ${populated.sessionToken}`,
    });
    expect(asSession.status).toBe(200);
    expect((await server.call('GET', '/api/projects', undefined, { authorization: 'Bearer not-a-token' })).status).toBe(401);
    // The next event continues the exported log: never a reused number.
    await server.call('POST', '/api/projects', { name: 'After the move' });
    const next = (await server.call('GET', `/api/events?since=${lastSeq}`)).body;
    expect(next.events.map((e: any) => [e.seq, e.type])).toEqual([[lastSeq + 1, 'project:created']]);
    return server;
  }

  it('imports into a fresh file store that serves the same JSON, byte for byte, and continues the seq', async () => {
    const server = await importAndCompare(dump, { DATA_DIR: join(tempDir(), 'data') });
    await server.close();
  });

  it.skipIf(!hasPostgres)(
    'imports into PostgreSQL, and exports from PostgreSQL into a file store, both serving the same JSON',
    async () => {
      const url = await freshDatabaseUrl();
      const onPostgres = await importAndCompare(dump, { DATABASE_URL: url });
      // Export while that server runs: a PostgreSQL store may be exported live (one consistent state).
      const fromPostgres = join(tempDir(), 'from-postgres.jsonl');
      const exported = await bin(['export', '--out', fromPostgres], { DATABASE_URL: url });
      expect(exported.code, exported.stderr).toBe(0);
      expect(JSON.parse(records(fromPostgres)[0]!)).toMatchObject({ engine: 'postgres', lastSeq: lastSeq + 1 });
      await onPostgres.close();
      // Back to files: the extra project is there too; the rest is as the source served it.
      const back = { DATA_DIR: join(tempDir(), 'data') };
      expect((await bin(['import', fromPostgres], back)).code).toBe(0);
      const server = await serve(back);
      const got = await served(server, populated);
      const moved = ['/api/projects', '/api/events?since=0&limit=1000', '/api/tokens'];
      for (const path of Object.keys(expected).filter((p) => !moved.includes(p))) expect(got[path], path).toBe(expected[path]);
      // The person's token was used on PostgreSQL: that use came along.
      expect(JSON.parse(got['/api/tokens']!)).toEqual([{ ...JSON.parse(expected['/api/tokens']!)[0], lastUsedAt: expect.any(Number) }]);
      expect(JSON.parse(got['/api/projects']!).map((p: any) => p.name)).toEqual(['Portable', 'After the move']);
      expect(JSON.parse(got['/api/events?since=0&limit=1000']!).latestSeq).toBe(lastSeq + 1);
      await server.close();
      // A second import into the now non-empty database is refused, and changes nothing.
      const sql = openStore(url);
      const before = await sql`SELECT count(*)::int AS n FROM maestro_entities`;
      const twice = await bin(['import', dump], { DATABASE_URL: url });
      expect(twice.code).toBe(1);
      expect(twice.stderr).toMatch(
        /is not empty \(.*events up to seq \d+\): import needs an empty store: point DATABASE_URL at a new database, or drop and create this one again\. Nothing was imported\./,
      );
      expect(await sql`SELECT count(*)::int AS n FROM maestro_entities`).toEqual(before);
    },
  );

  it('an export that carries no events (its log was pruned) still continues the seq: older positions get 410', async () => {
    const lines = records(dump);
    const header = JSON.parse(lines[0]!);
    const pruned = join(tempDir(), 'pruned.jsonl');
    const kept = lines.slice(1, -1).filter((l) => !l.startsWith('{"kind":"event"'));
    writeFileSync(
      pruned,
      `${[JSON.stringify({ ...header, oldestSeq: lastSeq + 1, counts: { ...header.counts, events: 0 } }), ...kept, JSON.stringify({ end: true, records: kept.length })].join('\n')}\n`,
    );
    const stores: Store[] = [{ DATA_DIR: join(tempDir(), 'data') }];
    if (hasPostgres) stores.push({ DATABASE_URL: await freshDatabaseUrl() });
    for (const store of stores) {
      expect((await bin(['import', pruned], store)).code).toBe(0);
      for (let run = 0; run < 2; run++) {
        // Twice: the position survives a restart before any new event is logged.
        const server = await serve(store);
        const old = await server.call('GET', `/api/events?since=${lastSeq - 5}`);
        expect(old.status).toBe(410);
        expect(old.body).toMatchObject({ code: 'EVENTS_EXPIRED', details: { oldestSeq: lastSeq + 1, latestSeq: lastSeq } });
        expect((await server.call('GET', `/api/events?since=${lastSeq}`)).body.events).toEqual([]);
        await server.close();
      }
      const server = await serve(store);
      await server.call('POST', '/api/projects', { name: 'Next' });
      expect((await server.call('GET', `/api/events?since=${lastSeq}`)).body.events.map((e: any) => e.seq)).toEqual([lastSeq + 1]);
      await server.close();
    }
  });

  it('refuses a non-empty file store, with nothing written', async () => {
    const before = readFileSync(join(source.DATA_DIR, 'projects', `${populated.project}.json`), 'utf8');
    const result = await bin(['import', dump], source);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /the store at .* is not empty \(1 projects, 4 tasks, .*\): import needs an empty store: point DATA_DIR at a new directory, or move this one aside\. Nothing was imported\./,
    );
    expect(readdirSync(join(source.DATA_DIR, 'projects'))).toEqual([`${populated.project}.json`]);
    expect(readFileSync(join(source.DATA_DIR, 'projects', `${populated.project}.json`), 'utf8')).toBe(before);
  });

  it('refuses an export piped in (/dev/stdin), which it could not read twice, instead of importing nothing', async () => {
    // Import reads the file twice, to check it whole and then to load it: a pipe gives its lines to the first read only.
    const target = { DATA_DIR: join(tempDir(), 'data') };
    const run = startBin(['import', '/dev/stdin'], target);
    // It refuses before reading the rest: what it left unread fails the write (EPIPE), which says nothing here.
    run.proc.stdin.on('error', () => {});
    run.proc.stdin.end(readFileSync(dump));
    const piped = await run.done;
    expect(piped.code, piped.stderr).toBe(1);
    expect(piped.stderr).toContain(
      '/dev/stdin is not a regular file (a pipe?): import reads it twice, to check it whole and then to load it. Save the export to a file first (maestro-server export --out FILE). Nothing was imported.',
    );
    expect(existsSync(target.DATA_DIR)).toBe(false);
  });

  it('an import killed mid-way (kill -9) leaves a store no server serves, and export and import say what to do (file and PostgreSQL)', async () => {
    // The export with 20,000 more tasks before its events: the kill lands while the import still commits batches.
    const lines = records(dump);
    const header = JSON.parse(lines[0]!);
    const body = lines.slice(1, -1);
    const firstEvent = body.findIndex((l) => l.startsWith('{"kind":"event"'));
    const { claim: _, ...task } = JSON.parse(body.find((l) => l.startsWith('{"kind":"tasks"'))!).entity;
    const bulk = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({ kind: 'tasks', entity: { ...task, id: `task_bulk_${i}`, title: `Bulk ${i}`, sessionIds: [], dependencies: [] } }),
    );
    const all = [...body.slice(0, firstEvent), ...bulk, ...body.slice(firstEvent)];
    const big = join(tempDir(), 'big.jsonl');
    const counts = { ...header.counts, tasks: header.counts.tasks + bulk.length };
    writeFileSync(
      big,
      `${[JSON.stringify({ ...header, counts }), ...all, JSON.stringify({ end: true, records: all.length })].join('\n')}\n`,
    );

    const file = { DATA_DIR: join(tempDir(), 'data') };
    const stores: [Store, () => Promise<boolean>][] = [
      [file, async () => existsSync(join(file.DATA_DIR, 'projects', `${populated.project}.json`))],
    ];
    if (hasPostgres) {
      const url = await freshDatabaseUrl();
      const sql = openStore(url);
      const written = async () => (await sql`SELECT count(*)::int AS n FROM maestro_entities`.catch(() => [{ n: 0 }]))[0]!.n > 0;
      stores.push([{ DATABASE_URL: url }, written]);
    }
    for (const [store, written] of stores) {
      const run = startBin(['import', big], store);
      for (let i = 0; !(await written()); i++) {
        if (i > 3000) throw new Error(`the import wrote nothing within 60 s: ${await Promise.race([run.done, 'running'])}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      run.proc.kill('SIGKILL');
      expect((await run.done).stderr).not.toContain('Imported');
      // A server does not serve the part that was written: it stops, saying why and what to do.
      const env = { ...storeEnv(store), DATABASE_TYPE: '', MAESTRO_TOKEN: '', HOST: '', PORT: '0', LOG_LEVEL: 'info' };
      const server = await runToExit({ ...env, SESSION_DIR: tempDir(), MAESTRO_LOCAL_RUNNER: '0' }, 30_000);
      expect(server.code, server.stdout).toBe(1);
      const unfinished =
        /an import into this store \(maestro-server import .*big\.jsonl, started [0-9T:.-]+Z\) did not finish: it holds only part of that export/;
      expect(server.stdout + server.stderr).toMatch(unfinished);
      expect(server.stdout + server.stderr).toMatch(/Cannot start: .*empty this one first/);
      // Neither does export; a second import names the unfinished one instead of only "not empty".
      const exported = await bin(['export'], store);
      expect(exported.code).toBe(1);
      expect(exported.stdout).toBe('');
      expect(exported.stderr).toMatch(unfinished);
      const again = await bin(['import', big], store);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(unfinished);
      expect(again.stderr).toMatch(/Nothing was imported\.$/m);
    }
  }, 120_000);

  it.each([
    ['not JSON lines', () => 'hello\nworld\n', /line 1: not JSON/],
    [
      'an unknown version',
      (l: string[]) => [l[0]!.replace('"maestroExport":1', '"maestroExport":7'), ...l.slice(1)].join('\n'),
      /line 1: export format version 7 is not supported \(this server reads 1\): it was written by a newer maestro-server; import it with that version or a later one\. Nothing was imported\./,
    ],
    // The end line and the end of the line before it are gone: that line is the one named.
    [
      'a file cut mid-line',
      (l: string[]) => l.join('\n').slice(0, -(l.at(-1)!.length + 11)),
      (l: string[]) => new RegExp(`line ${l.length - 1}: not JSON`),
    ],
    [
      'a file cut at a line end',
      (l: string[]) => l.slice(0, 20).join('\n'),
      /line 20: the file ends here without its end line: it was cut short/,
    ],
    [
      'an unknown kind',
      (l: string[]) => [l[0], '{"kind":"widgets","entity":{"id":"w1"}}', ...l.slice(2)].join('\n'),
      /line 2: unknown record kind "widgets"/,
    ],
    [
      'an entity that is not one',
      (l: string[]) => [l[0], '{"kind":"tasks","entity":{"id":"../x"}}', ...l.slice(2)].join('\n'),
      /line 2: not a valid tasks entity/,
    ],
    ['a missing event', (l: string[]) => l.filter((x) => !x.includes('"seq":3,')).join('\n'), /line \d+: event seq 4 where 3 was expected/],
  ] as [string, (l: string[]) => string, RegExp | ((l: string[]) => RegExp)][])(
    'refuses %s, naming the line, with nothing written (file and PostgreSQL)',
    async (_name, damage, message) => {
      const lines = records(dump);
      const file = join(tempDir(), 'damaged.jsonl');
      writeFileSync(file, damage(lines));
      const pattern = typeof message === 'function' ? message(lines) : message;
      const target = join(tempDir(), 'data');
      const result = await bin(['import', file], { DATA_DIR: target });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(pattern);
      expect(result.stderr).toContain('Nothing was imported.');
      expect(existsSync(target)).toBe(false);
      if (!hasPostgres) return;
      const url = await freshDatabaseUrl();
      const onPostgres = await bin(['import', file], { DATABASE_URL: url });
      expect(onPostgres.code).toBe(1);
      expect(onPostgres.stderr).toMatch(pattern);
      const schema = decodeURIComponent(url).match(/search_path=(\w+)/)![1]!;
      const tables = await openStore(url)`SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema}`;
      expect(tables).toEqual([]);
    },
  );

  it('explains itself: --help names both commands, --version the version, an unknown one fails', async () => {
    const help = await bin(['--help'], source);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/export \[options\]/);
    expect(help.stdout).toMatch(/import <file>/);
    expect(help.stdout).toContain('With no command, maestro-server starts the server');
    const version = await bin(['--version'], source);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n?$/) });
    const unknown = await bin(['frobnicate'], source);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const missing = await bin(['import', join(tempDir(), 'nope.jsonl')], { DATA_DIR: join(tempDir(), 'data') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.jsonl/);
  });
});
