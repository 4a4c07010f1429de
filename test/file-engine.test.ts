import { existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loggedEvents, runToExit, startServerProcess, testEnv } from './helpers.js';

/*
 * The file engine as a user meets it (contract §22.1, §1.7, §5, §17): one server per data directory, every
 * acknowledged change back after `kill -9` (restored from the journal into the files before serving), the snapshot
 * damaged or outdated, and entity files edited while the server is down. Real server processes, real files.
 */

async function boot(env: Record<string, string>) {
  const server = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
  const base = server.url.replace('//localhost:', '//127.0.0.1:');
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const stop = async () => {
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  };
  return { ...server, call, stop };
}

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('one server per data directory (§22.1)', () => {
  it('a second server on the same DATA_DIR exits 1 before serving, naming the holder; a kill -9 holder is taken over', async () => {
    const env = testEnv();
    const first = await boot(env);
    const second = await runToExit({ ...env, LOG_LEVEL: 'info' });
    expect(second.code).toBe(1);
    expect(second.stdout + second.stderr).toContain(`process ${first.proc.pid}`);
    expect(second.stdout + second.stderr).not.toContain('listening on');
    // The first one still serves, untouched.
    expect((await first.call('POST', '/api/projects', { name: 'Still mine' })).status).toBe(201);

    first.proc.kill('SIGKILL');
    await first.exited;
    expect(read(join(env.DATA_DIR!, '.lock')).pid).toBe(first.proc.pid); // left behind by the dead holder
    const third = await boot(env);
    expect(third.output()).toMatch(new RegExp(`Took over the lock of process ${first.proc.pid}\\b`));
    expect((await third.call('GET', '/api/projects')).body.map((p: any) => p.name)).toEqual(['Still mine']);
    await third.stop();
    expect(existsSync(join(env.DATA_DIR!, '.lock'))).toBe(false);
  }, 30_000);

  it('an empty lock file, as a power cut right after a start can leave, is taken over with a warning', async () => {
    const env = testEnv();
    const first = await boot(env);
    expect((await first.call('POST', '/api/projects', { name: 'Before the cut' })).status).toBe(201);
    first.proc.kill('SIGKILL');
    await first.exited;
    writeFileSync(join(env.DATA_DIR!, '.lock'), '');
    const second = await boot(env);
    expect(second.output()).toMatch(/Took over an empty lock file/);
    expect((await second.call('GET', '/api/projects')).body.map((p: any) => p.name)).toEqual(['Before the cut']);
    expect(read(join(env.DATA_DIR!, '.lock')).pid).toBe(second.proc.pid);
    await second.stop();
  }, 30_000);
});

describe('a data directory locked by a server on another machine', () => {
  it('is refused with the way out: remove the lock once that server no longer runs (a copied directory, a replaced container)', async () => {
    const env = testEnv();
    const first = await boot(env);
    expect((await first.call('POST', '/api/projects', { name: 'Copied' })).status).toBe(201);
    first.proc.kill('SIGKILL');
    await first.exited;
    // As a copy of a directory whose server was killed elsewhere leaves it (or a container recreated with a new name).
    const lock = join(env.DATA_DIR!, '.lock');
    writeFileSync(lock, `${JSON.stringify({ ...read(lock), host: 'old-container-3f2a' })}\n`);
    const refused = await runToExit({ ...env, LOG_LEVEL: 'info' });
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain(
      `is in use by another Maestro server (process ${first.proc.pid} on old-container-3f2a, since`,
    );
    expect(refused.stdout + refused.stderr).toContain(
      `That server is on another machine, which this one cannot check: if it no longer runs there (this directory is a copy, or its container was replaced), remove ${lock} and start again`,
    );
    rmSync(lock);
    const second = await boot(env);
    expect((await second.call('GET', '/api/projects')).body.map((p: any) => p.name)).toEqual(['Copied']);
    await second.stop();
  }, 30_000);
});

describe('kill -9 during a burst of mixed mutations, then a restart', () => {
  it('serves and holds in its files every acknowledged change, and logs no event whose change is not on disk', async () => {
    const env = testEnv();
    const first = await boot(env);
    const project = (await first.call('POST', '/api/projects', { name: 'Burst' })).body;
    // What the client was told, per entity: the last acknowledged state (null: deleted).
    const acked = new Map<string, any>();
    let stop = false;
    let answered = 0;
    const workers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const task = await first.call('POST', '/api/tasks', { projectId: project.id, title: `w${w}-${i}` });
          if (task.status !== 201) return;
          acked.set(task.body.id, task.body);
          const patched = await first.call('PATCH', `/api/tasks/${task.body.id}`, { description: `p${i}`, status: 'in_progress' });
          if (patched.status !== 200) return;
          acked.set(task.body.id, patched.body);
          if (i % 3 === 2) {
            const gone = await first.call('DELETE', `/api/tasks/${task.body.id}`);
            if (gone.status !== 200 && gone.status !== 204) return;
            acked.set(task.body.id, null);
          }
          const renamed = await first.call('PUT', `/api/projects/${project.id}`, { description: `w${w}-${i}` });
          if (renamed.status !== 200) return;
          acked.set(project.id, renamed.body);
          if (++answered === 60) first.proc.kill('SIGKILL');
        } catch {
          return; // the connection died with the server
        }
      }
    });
    await Promise.all(workers);
    stop = true;
    expect(await first.exited).toBeNull();
    expect(answered).toBeGreaterThanOrEqual(60);

    const second = await boot(env);
    const dataDir = env.DATA_DIR!;
    const strip = ({ sessionCount: _c, blockedBy: _b, ready: _r, ...rest }: any) => rest;
    for (const [id, state] of acked) {
      const isProject = id === project.id;
      const served = await second.call('GET', isProject ? `/api/projects/${id}` : `/api/tasks/${id}`);
      const file = isProject ? join(dataDir, 'projects', `${id}.json`) : join(dataDir, 'tasks', project.id, `${id}.json`);
      if (state === null) {
        expect(served.status, id).toBe(404);
        expect(existsSync(file), file).toBe(false);
        continue;
      }
      // The server may hold a later (unanswered) change; never an older one than it acknowledged.
      expect(served.status, id).toBe(200);
      expect(served.body.updatedAt, id).toBeGreaterThanOrEqual(state.updatedAt);
      if (served.body.updatedAt === state.updatedAt && !isProject) expect(strip(served.body)).toEqual(strip(state));
      expect(strip(read(file))).toEqual(strip(served.body));
    }
    // Every logged event belongs to a change on disk: a created task is on disk or deleted by a later logged event.
    const lines = loggedEvents(dataDir);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    const deleted = new Set(lines.filter((l) => l.type === 'task:deleted').map((l) => l.data.id));
    for (const l of lines.filter((e) => e.type === 'task:created')) {
      expect(existsSync(join(dataDir, 'tasks', project.id, `${l.data.id}.json`)) || deleted.has(l.data.id), l.data.id).toBe(true);
    }
    // …and the files are the last logged state of each task still there.
    const last = new Map(lines.filter((l) => l.type === 'task:updated' || l.type === 'task:created').map((l) => [l.data.id, l.data]));
    for (const [id, data] of last) {
      if (deleted.has(id)) continue;
      expect(strip(read(join(dataDir, 'tasks', project.id, `${id}.json`))), id).toEqual(strip(data));
    }
    expect((await second.call('GET', `/api/events?since=${lines.length - 1}`)).body.latestSeq).toBe(lines.length);
    await second.stop();
  }, 60_000);
});

describe('the snapshot and the entity files', () => {
  async function seeded() {
    const env = testEnv();
    const server = await boot(env);
    const project = (await server.call('POST', '/api/projects', { name: 'Snap' })).body;
    const tasks = [];
    for (let i = 0; i < 5; i++) tasks.push((await server.call('POST', '/api/tasks', { projectId: project.id, title: `T${i}` })).body);
    await server.stop();
    expect(existsSync(join(env.DATA_DIR!, 'snapshot.jsonl'))).toBe(true);
    return { env, project, tasks, dataDir: env.DATA_DIR! };
  }

  it('a damaged snapshot is ignored with a warning, every entity is read from its file, and a new snapshot is written', async () => {
    const { env, project, tasks, dataDir } = await seeded();
    const snapshot = join(dataDir, 'snapshot.jsonl');
    for (const damage of [
      () => truncateSync(snapshot, Math.floor(statSync(snapshot).size / 2)),
      () => writeFileSync(snapshot, readFileSync(snapshot, 'utf8').replace(/"title":"T3"/, '"title":')),
    ]) {
      damage();
      const server = await boot(env);
      expect(server.output()).toMatch(/snapshot is damaged/);
      const served = (await server.call('GET', `/api/tasks?projectId=${project.id}`)).body;
      expect(served.map((t: any) => t.title)).toEqual(tasks.map((t) => t.title));
      await server.stop();
      // Rebuilt: the next start uses it without a warning, and reads no entity file.
      const again = await boot(env);
      expect(again.output()).not.toMatch(/snapshot is damaged/);
      expect(again.output()).toMatch(/Loaded \d+ entities \(snapshot, 0 changed file\(s\) read\)/);
      await again.stop();
    }
  }, 60_000);

  it('a later snapshot keeps the unchanged entries as they were and holds the changes: a restart reads only a file edited since', async () => {
    const { env, project, tasks, dataDir } = await seeded();
    const snapshot = join(dataDir, 'snapshot.jsonl');
    // A file changed in the last 100 ms is left out of a snapshot (file times are coarse): past that, a start and a
    // stop make one that holds every entity.
    const settle = () => new Promise((r) => setTimeout(r, 150));
    await settle();
    await (await boot(env)).stop();
    const server = await boot(env);
    expect(server.output()).toMatch(/Loaded 8 entities \(snapshot, 0 changed file\(s\) read\)/);
    expect((await server.call('PATCH', `/api/tasks/${tasks[0].id}`, { title: 'changed' })).status).toBe(200);
    expect((await server.call('DELETE', `/api/tasks/${tasks[4].id}`)).status).toBe(200);
    const added = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'T5' })).body;
    await settle();
    await server.stop();
    const lines = readFileSync(snapshot, 'utf8').trim().split('\n');
    // The header, the two starter templates, the project and five tasks once each, the end line.
    expect(lines).toHaveLength(10);
    expect(lines.filter((line) => line.includes(tasks[4].id))).toEqual([]);
    expect(lines.filter((line) => line.includes('"title":"changed"'))).toHaveLength(1);
    const fileOf = (id: string) => join(dataDir, 'tasks', project.id, `${id}.json`);
    writeFileSync(fileOf(tasks[1].id), JSON.stringify({ ...read(fileOf(tasks[1].id)), title: 'by hand' }, null, 2));

    const again = await boot(env);
    expect(again.output()).toMatch(/Loaded 8 entities \(snapshot, 1 changed file\(s\) read\)/);
    const served = (await again.call('GET', `/api/tasks?projectId=${project.id}`)).body;
    expect(served.map((t: any) => t.title)).toEqual(['changed', 'by hand', 'T2', 'T3', 'T5']);
    expect(served.at(-1).id).toBe(added.id);
    await again.stop();
  }, 30_000);

  it('temporary files that a stopped server left in the middle of a write are removed at the next start', async () => {
    const { env, project, dataDir } = await seeded();
    const left = [
      join(dataDir, 'tasks', project.id, '.4242-1.tmp'),
      join(dataDir, 'projects', '.4242-2.tmp'),
      join(dataDir, '.snapshot.jsonl.0123456789ab.tmp'),
    ];
    for (const path of left) writeFileSync(path, '{"half":');
    const kept = join(dataDir, 'projects', '.keep');
    writeFileSync(kept, '');
    const server = await boot(env);
    expect(server.output()).toMatch(/Removed 3 temporary file\(s\) left by a server that stopped in the middle of a write/);
    expect(left.filter((path) => existsSync(path))).toEqual([]);
    expect(existsSync(kept)).toBe(true);
    expect((await server.call('GET', `/api/tasks?projectId=${project.id}`)).body).toHaveLength(5);
    await server.stop();
  }, 30_000);

  it('entity files edited, added or removed while the server was down win over the snapshot', async () => {
    const { env, project, tasks, dataDir } = await seeded();
    const fileOf = (id: string) => join(dataDir, 'tasks', project.id, `${id}.json`);
    // An edit in place, of the same length (the snapshot's entry differs from the file only by content and times).
    const edited = { ...read(fileOf(tasks[0].id)), title: 'TX' };
    writeFileSync(fileOf(tasks[0].id), JSON.stringify(edited, null, 2));
    rmSync(fileOf(tasks[1].id));
    const added = { ...read(fileOf(tasks[2].id)), id: 'task_added_by_hand', title: 'By hand' };
    writeFileSync(fileOf(added.id), JSON.stringify(added, null, 2));

    const server = await boot(env);
    const served = (await server.call('GET', `/api/tasks?projectId=${project.id}`)).body;
    expect(served.find((t: any) => t.id === tasks[0].id).title).toBe('TX');
    expect(served.find((t: any) => t.id === tasks[1].id)).toBeUndefined();
    expect(served.find((t: any) => t.id === added.id).title).toBe('By hand');
    expect(served).toHaveLength(5);
    await server.stop();
  }, 30_000);
});
