import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createStorage } from 'unstorage';
import { describe, expect, it } from 'vitest';
import { durableFsDriver } from '../lib/storage/file/driver.js';
import { startServerProcess, startTestServer, tempDir, testEnv } from './helpers.js';

/**
 * Durability (contract §1.7, §5): restarts, `kill -9` in the middle of a burst of writes, the on-disk layout shared
 * with the CLI, and the load-time migration of older files. Every server here is the real one on the real
 * filesystem driver; the process tests run the compiled bin, as a user would.
 */

interface Reply {
  status: number;
  text: string;
  body: any;
}

const request = async (base: string, method: string, path: string, body?: unknown): Promise<Reply> => {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
};

/** The compiled server as a child process, with a JSON client and a clean stop (SIGTERM, exit 0). */
async function boot(env: Record<string, string>) {
  const server = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
  const base = server.url.replace('//localhost:', '//127.0.0.1:');
  const call = (method: string, path: string, body?: unknown) => request(base, method, path, body);
  const ok = async (method: string, path: string, body?: unknown, status = method === 'POST' ? 201 : 200) => {
    const res = await call(method, path, body);
    expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
    return res.body;
  };
  const stop = async () => {
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  };
  return { ...server, base, call, ok, stop };
}

/** Every file under `dir`, as paths relative to it ('/' separated). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

/** A stored entity, after checking the file is 2-space pretty JSON (§5). */
function readStored(path: string) {
  const text = readFileSync(path, 'utf8');
  const value = JSON.parse(text);
  expect(text.trimEnd(), path).toBe(JSON.stringify(value, null, 2));
  return value;
}

const withoutCount = ({ sessionCount: _derived, blockedBy: _blocked, ready: _ready, ...task }: Record<string, unknown>) => task;

function writeJson(path: string, value: unknown) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

describe('restart on the same DATA_DIR', () => {
  it('serves byte-identical bodies, in the same order, after a stop and a start', async () => {
    const env = testEnv();
    const first = await boot(env);
    const { ok } = first;

    const alpha = await ok('POST', '/api/projects', { name: 'Alpha', workingDir: '/srv/alpha', description: 'first' });
    const beta = await ok('POST', '/api/projects', { name: 'Beta' });
    const doomed = await ok('POST', '/api/projects', { name: 'Deleted before restart' });
    await ok('PUT', `/api/projects/${beta.id}`, { description: 'edited' });
    await ok('DELETE', `/api/projects/${doomed.id}`);

    const root = await ok('POST', '/api/tasks', { projectId: alpha.id, title: 'Root', priority: 'high', skillIds: ['s1'] });
    const child = await ok('POST', '/api/tasks', { projectId: alpha.id, title: 'Child', parentId: root.id });
    const grandchild = await ok('POST', '/api/tasks', { projectId: alpha.id, title: 'Grandchild', parentId: child.id });
    const other = await ok('POST', '/api/tasks', { projectId: beta.id, title: 'Other', initialPrompt: 'do it' });
    const gone = await ok('POST', '/api/tasks', { projectId: beta.id, title: 'Deleted' });
    await ok('PATCH', `/api/tasks/${root.id}`, { status: 'in_progress', agentIds: ['agent-1'] });
    await ok('PATCH', `/api/tasks/${child.id}`, { status: 'completed', sessionStatus: 'completed' });

    const s1 = await ok('POST', '/api/sessions', { projectId: alpha.id, taskIds: [root.id, child.id], name: 'Worker' });
    const s2 = await ok('POST', '/api/sessions', {
      id: 'client_supplied-1',
      projectId: beta.id,
      taskIds: [other.id],
      env: { A: '1' },
      metadata: { k: [1, 2] },
    });
    const s3 = await ok('POST', '/api/sessions', { projectId: beta.id, taskIds: [gone.id], strategy: 'queue' });
    await ok('POST', `/api/sessions/${s2.id}/tasks/${root.id}`, undefined, 200);
    await ok('DELETE', `/api/sessions/${s1.id}/tasks/${child.id}`, undefined, 200);
    await ok('POST', `/api/sessions/${s1.id}/events`, { type: 'output', data: { line: 'hello', n: 1 } }, 200);
    await ok('POST', `/api/sessions/${s1.id}/timeline`, { message: 'Halfway', type: 'milestone', taskId: root.id }, 200);
    await ok('POST', `/api/tasks/${root.id}/timeline`, { message: 'Progress', sessionId: s2.id }, 200);
    await ok('PATCH', `/api/sessions/${s2.id}`, { status: 'working', env: { B: '2' }, events: [{ type: 'tick' }] }, 200);
    await ok('DELETE', `/api/tasks/${gone.id}`, undefined, 200);
    await ok('DELETE', `/api/sessions/${s3.id}`, undefined, 200);

    const paths = [
      '/api/projects',
      '/api/projects?limit=1',
      ...[alpha, beta].map((p) => `/api/projects/${p.id}`),
      '/api/tasks',
      `/api/tasks?projectId=${alpha.id}`,
      '/api/tasks?parentId=null',
      `/api/tasks?parentId=${root.id}`,
      '/api/tasks?status=completed',
      '/api/tasks?limit=2',
      ...[root, child, grandchild, other].flatMap((t) => [`/api/tasks/${t.id}`, `/api/tasks/${t.id}/children`]),
      '/api/sessions',
      `/api/sessions?taskId=${root.id}`,
      `/api/sessions?projectId=${beta.id}`,
      '/api/sessions?active=true',
      ...[s1, s2].map((s) => `/api/sessions/${s.id}`),
    ];
    const before = new Map<string, string>();
    for (const path of paths) before.set(path, (await first.call('GET', path)).text);
    for (const path of [`/api/projects/${doomed.id}`, `/api/tasks/${gone.id}`, `/api/sessions/${s3.id}`]) {
      expect((await first.call('GET', path)).status, path).toBe(404);
    }
    // The snapshot is not trivially empty: the lists hold what was created, in creation order.
    expect(JSON.parse(before.get('/api/tasks')!).map((t: any) => t.title)).toEqual(['Root', 'Child', 'Grandchild', 'Other']);
    expect(JSON.parse(before.get(`/api/sessions/${s1.id}`)!).events).toHaveLength(1);

    await first.stop();
    const second = await boot(env);
    for (const path of paths) {
      const res = await second.call('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.text, path).toBe(before.get(path));
    }
    for (const path of [`/api/projects/${doomed.id}`, `/api/tasks/${gone.id}`, `/api/sessions/${s3.id}`]) {
      expect((await second.call('GET', path)).status, `${path} after restart`).toBe(404);
    }
    // Items created after the restart are appended to the stored ones.
    const late = await second.ok('POST', '/api/projects', { name: 'Late' });
    expect((await second.call('GET', '/api/projects')).body.map((p: any) => p.id)).toEqual([alpha.id, beta.id, late.id]);
    await second.stop();
  });
});

describe('crash safety (kill -9 during a burst of writes)', () => {
  it('keeps every answered create, and never loads half-written or temporary files', async () => {
    const env = testEnv();
    const dataDir = env.DATA_DIR!;
    const first = await boot(env);
    const projects: any[] = [];
    for (const name of ['P0', 'P1', 'P2']) projects.push(await first.ok('POST', '/api/projects', { name }));
    const parent = await first.ok('POST', '/api/tasks', { projectId: projects[0].id, title: 'Parent' });

    // Ten writers, each sending its next create as soon as the last is answered, until the kill: it lands while
    // creates are in flight (however fast the server answers), and each writer's last one is never answered.
    const WRITERS = 10;
    const KILL_AFTER = 40;
    const answered: { kind: 'project' | 'task'; body: any }[] = [];
    let sent = 0;
    let failed = 0;
    const writer = async () => {
      while (sent < 2000) {
        const i = sent++;
        const kind = i % 4 === 0 ? 'project' : 'task';
        const body =
          kind === 'project'
            ? { name: `Burst ${i}`, description: 'x'.repeat((i % 200) * 50) }
            : {
                projectId: projects[i % 3].id,
                title: `Burst ${i}`,
                description: 'y'.repeat((i % 200) * 50),
                ...(i % 5 === 0 && { parentId: parent.id }),
              };
        let res: Awaited<ReturnType<typeof request>>;
        try {
          res = await request(first.base, 'POST', kind === 'project' ? '/api/projects' : '/api/tasks', body);
        } catch {
          failed++;
          return;
        }
        if (res.status !== 201) throw new Error(`unexpected ${res.status}: ${res.text}`);
        answered.push({ kind, body: res.body });
        if (answered.length === KILL_AFTER) first.proc.kill('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    expect(await first.exited).toBeNull(); // killed by the signal, not exited
    expect(answered.length).toBeGreaterThanOrEqual(KILL_AFTER);
    // The kill really landed in the middle of the writes: every writer's last create went unanswered.
    expect(failed, 'creates left unanswered by the kill').toBe(WRITERS);
    expect(answered.length + failed).toBe(sent);

    // A temporary file left by an interrupted write is never an entity, even when it holds a valid one.
    writeJson(join(dataDir, 'projects', '.0123456789ab.tmp'), {
      id: 'proj_planted',
      name: 'Planted',
      workingDir: '',
      description: '',
      createdAt: 1,
      updatedAt: 1,
    });
    writeJson(join(dataDir, 'projects', '.hidden.json'), {
      id: 'proj_hidden',
      name: 'Hidden',
      workingDir: '',
      description: '',
      createdAt: 1,
      updatedAt: 1,
    });

    const second = await boot(env);
    for (const { kind, body } of answered) {
      const res = await second.call('GET', `/api/${kind}s/${body.id}`);
      expect(res.status, `${kind} ${body.id} was answered 201 before the crash`).toBe(200);
      expect(res.body).toEqual(body);
    }
    for (const id of ['proj_planted', 'proj_hidden']) expect((await second.call('GET', `/api/projects/${id}`)).status).toBe(404);

    // Every entity file parses, and what is served is exactly the set of entity files on disk.
    const files = filesUnder(dataDir).filter((f) => f.endsWith('.json') && !f.split('/').at(-1)!.startsWith('.'));
    for (const file of files) expect(() => JSON.parse(readFileSync(join(dataDir, file), 'utf8')), file).not.toThrow();
    const servedProjects = (await second.call('GET', '/api/projects')).body.map((p: any) => `projects/${p.id}.json`);
    const servedTasks = (await second.call('GET', '/api/tasks')).body.map((t: any) => `tasks/${t.projectId}/${t.id}.json`);
    expect(servedProjects.sort()).toEqual(files.filter((f) => f.startsWith('projects/')));
    expect(servedTasks.sort()).toEqual(files.filter((f) => f.startsWith('tasks/')));
    expect(servedProjects.length).toBeGreaterThanOrEqual(3 + answered.filter((a) => a.kind === 'project').length);
    await second.stop();
  });
});

describe('on-disk layout (§5)', () => {
  it('writes one 2-space JSON file per entity under the shared layout, without sessionCount, and unlinks on delete', async () => {
    const server = await startTestServer();
    const { call, config } = server;
    const dataDir = config.dataDir;
    const post = async (path: string, body: unknown, status = 201) => {
      const res = await call('POST', path, body);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      return res.body;
    };

    const project = await post('/api/projects', { name: 'Layout', workingDir: '/w' });
    const projectFile = join(dataDir, 'projects', `${project.id}.json`);
    expect(readStored(projectFile)).toEqual(project);

    const task = await post('/api/tasks', { projectId: project.id, title: 'T' });
    const child = await post('/api/tasks', { projectId: project.id, title: 'C', parentId: task.id });
    const taskFile = join(dataDir, 'tasks', project.id, `${task.id}.json`);
    const childFile = join(dataDir, 'tasks', project.id, `${child.id}.json`);
    expect(readStored(taskFile)).toEqual(withoutCount(task));
    expect(readStored(childFile)).toEqual(withoutCount(child));
    expect(existsSync(join(dataDir, 'tasks', `${task.id}.json`))).toBe(false);

    const session = await post('/api/sessions', { projectId: project.id, taskIds: [task.id] });
    const sessionFile = join(dataDir, 'sessions', `${session.id}.json`);
    expect(readStored(sessionFile)).toEqual(session);

    // Linked: the served task counts its sessions, the stored one never carries the count.
    const linked = (await call('GET', `/api/tasks/${task.id}`)).body;
    expect(linked.sessionCount).toBe(1);
    const stored = readStored(taskFile);
    expect(stored).toEqual(withoutCount(linked));
    expect(stored).not.toHaveProperty('sessionCount');
    expect(readFileSync(taskFile, 'utf8')).not.toContain('sessionCount');

    // Each mutation rewrites the file before answering.
    const renamed = (await call('PUT', `/api/projects/${project.id}`, { name: 'Renamed' })).body;
    expect(readStored(projectFile)).toEqual(renamed);
    const patched = (await call('PATCH', `/api/sessions/${session.id}`, { status: 'completed' })).body;
    expect(readStored(sessionFile)).toEqual(patched);

    expect(filesUnder(join(dataDir, 'projects'))).toEqual([`${project.id}.json`]);
    expect(filesUnder(join(dataDir, 'tasks'))).toEqual([`${project.id}/${task.id}.json`, `${project.id}/${child.id}.json`].sort());
    expect(filesUnder(join(dataDir, 'sessions'))).toEqual([`${session.id}.json`]);

    // Deletes unlink the files.
    expect((await call('DELETE', `/api/sessions/${session.id}`)).status).toBe(200);
    expect(existsSync(sessionFile)).toBe(false);
    expect(readStored(taskFile).sessionIds).toEqual([]);
    expect((await call('DELETE', `/api/tasks/${child.id}`)).status).toBe(200);
    expect((await call('DELETE', `/api/tasks/${task.id}`)).status).toBe(200);
    expect(existsSync(childFile)).toBe(false);
    expect(existsSync(taskFile)).toBe(false);
    expect((await call('DELETE', `/api/projects/${project.id}`)).status).toBe(200);
    expect(existsSync(projectFile)).toBe(false);
    for (const kind of ['projects', 'tasks', 'sessions']) expect(filesUnder(join(dataDir, kind)), kind).toEqual([]);
  });
});

describe('legacy files and load-time migration (§5)', () => {
  const PID = 'proj_legacy';
  const project = { id: PID, name: 'Legacy', workingDir: '/old', description: '', createdAt: 1000, updatedAt: 1000 };
  /** A task as an older version wrote it: no sessionIds, skillIds or agentIds. */
  const oldTask = (id: string, title: string, createdAt: number) => ({
    id,
    projectId: PID,
    parentId: null,
    title,
    description: '',
    status: 'todo',
    priority: 'medium',
    createdAt,
    updatedAt: createdAt,
    startedAt: null,
    completedAt: null,
    initialPrompt: '',
    dependencies: [],
  });

  it('loads legacy tasks, moves them on save, removes them on delete, migrates sessions and skips bad files', async () => {
    const env = testEnv();
    const dataDir = env.DATA_DIR!;
    const base = dirname(dataDir);
    const at = (...parts: string[]) => join(dataDir, ...parts);
    writeJson(at('projects', `${PID}.json`), project);
    writeJson(at('tasks', 'task_moved.json'), oldTask('task_moved', 'Moved on save', 2000));
    writeJson(at('tasks', 'task_deleted.json'), oldTask('task_deleted', 'Deleted', 2001));
    writeJson(at('tasks', 'task_kept.json'), oldTask('task_kept', 'Never touched', 2002));
    // A crash between writing the new file and removing the legacy copy leaves both; the current one wins.
    writeJson(at('tasks', PID, 'task_twice.json'), {
      ...oldTask('task_twice', 'Current copy', 2003),
      sessionIds: [],
      skillIds: [],
      agentIds: [],
    });
    writeJson(at('tasks', 'task_twice.json'), oldTask('task_twice', 'Stale legacy copy', 2003));
    writeJson(at('sessions', 'sess_old.json'), {
      id: 'sess_old',
      projectId: PID,
      taskId: 'task_kept',
      status: 'running',
      startedAt: 3000,
      lastActivity: 3000,
      completedAt: null,
      hostname: 'h',
      platform: 'linux',
    });
    // Files that must be skipped, with the server still starting.
    writeJson(at('projects', 'broken.json'), '{ "id": "proj_broken", "name": ');
    writeJson(at('projects', 'empty.json'), '');
    writeJson(at('projects', 'array.json'), []);
    writeJson(at('projects', 'escape.json'), { ...project, id: '../../escape' });
    writeJson(at('projects', 'long.json'), { ...project, id: `p${'x'.repeat(128)}` });
    writeJson(at('tasks', PID, 'task_evil.json'), { ...oldTask('task_evil', 'Evil', 2004), projectId: '../../../evil' });
    writeJson(at('tasks', PID, 'task_slash.json'), { ...oldTask('a/../../slash', 'Slash', 2005) });
    writeJson(at('sessions', 'sess_evil.json'), { id: '..\\..\\sess', projectId: PID, taskIds: [] });
    const outsideBefore = filesUnder(base).filter((f) => !f.startsWith('data/'));

    const first = await boot(env);
    const { ok } = first;
    // Unparseable and unsafe files are skipped with a warning naming them.
    for (const file of [
      'broken.json',
      'empty.json',
      'array.json',
      'escape.json',
      'long.json',
      'task_evil.json',
      'task_slash.json',
      'sess_evil.json',
    ]) {
      expect(first.output(), file).toContain(file);
    }
    expect((await ok('GET', '/api/projects')).map((p: any) => p.id)).toEqual([PID]);
    const titles = (await ok('GET', '/api/tasks')).map((t: any) => t.title);
    expect(titles).toEqual(['Moved on save', 'Deleted', 'Never touched', 'Current copy']);

    // Missing link arrays are served as [].
    expect(await ok('GET', '/api/tasks/task_moved')).toMatchObject({ sessionIds: [], skillIds: [], agentIds: [], sessionCount: 0 });
    // The migrated session's scalar taskId named task_kept: the mirror (§2.8) is restored on the task's side.
    const kept = await ok('GET', '/api/tasks/task_kept');
    expect(kept).toMatchObject({ sessionIds: ['sess_old'], skillIds: [], agentIds: [], sessionCount: 1, updatedAt: 2002 });
    expect(readStored(at('tasks', PID, 'task_kept.json')).sessionIds).toEqual(['sess_old']);
    expect(existsSync(at('tasks', 'task_kept.json'))).toBe(false);

    // The legacy session was migrated and re-saved at startup.
    const migrated = {
      id: 'sess_old',
      projectId: PID,
      taskIds: ['task_kept'],
      name: 'Session sess_old',
      env: {},
      events: [],
      timeline: [],
      strategy: 'simple',
      status: 'working',
      startedAt: 3000,
      lastActivity: 3000,
      completedAt: null,
      hostname: 'h',
      platform: 'linux',
      host: null,
      agent: null,
      run: null,
      attention: null,
      workspace: null,
    };
    const session = await ok('GET', '/api/sessions/sess_old');
    expect(session).toEqual(migrated);
    const storedSession = readStored(at('sessions', 'sess_old.json'));
    expect(storedSession).toEqual(migrated);
    expect(storedSession).not.toHaveProperty('taskId');

    // Next save: written under tasks/<projectId>/, legacy file removed.
    const moved = await ok('PATCH', '/api/tasks/task_moved', { title: 'Moved and saved' });
    expect(existsSync(at('tasks', 'task_moved.json'))).toBe(false);
    expect(readStored(at('tasks', PID, 'task_moved.json'))).toEqual(withoutCount(moved));
    // Delete: the legacy file goes too.
    await ok('DELETE', '/api/tasks/task_deleted');
    expect(existsSync(at('tasks', 'task_deleted.json'))).toBe(false);
    expect((await ok('GET', '/api/tasks/task_twice')).title).toBe('Current copy');
    await ok('DELETE', '/api/tasks/task_twice');
    expect(existsSync(at('tasks', PID, 'task_twice.json'))).toBe(false);
    expect(existsSync(at('tasks', 'task_twice.json'))).toBe(false);
    // Nothing was written outside the data directory.
    expect(filesUnder(base).filter((f) => !f.startsWith('data/'))).toEqual(outsideBefore);
    expect(existsSync(join(base, 'escape.json'))).toBe(false);
    await first.stop();

    // After a restart, deleted tasks stay deleted and the moved one is read from its new place.
    const second = await boot(env);
    expect((await second.call('GET', '/api/tasks/task_deleted')).status).toBe(404);
    expect((await second.call('GET', '/api/tasks/task_twice')).status).toBe(404);
    expect((await second.ok('GET', '/api/tasks/task_moved')).title).toBe('Moved and saved');
    expect((await second.ok('GET', '/api/tasks')).map((t: any) => t.id)).toEqual(['task_moved', 'task_kept']);
    expect(await second.ok('GET', '/api/sessions/sess_old')).toEqual(migrated);
    // The task whose link was restored stays moved, with its link.
    expect(existsSync(at('tasks', 'task_kept.json'))).toBe(false);
    expect((await second.ok('GET', '/api/tasks/task_kept')).sessionIds).toEqual(['sess_old']);
    await second.stop();
  });

  it('removes a misnamed copy when its entity is saved or deleted, so a deleted entity never comes back', async () => {
    const env = testEnv();
    const at = (...parts: string[]) => join(env.DATA_DIR!, ...parts);
    writeJson(at('projects', `${PID}.json`), project);
    // Files named after another ID than the one they hold, as a copy made by hand would be.
    writeJson(at('projects', 'copy-of-project.json'), { ...project, id: 'proj_copy', name: 'Copied' });
    writeJson(at('sessions', 'old-name.json'), {
      id: 'sess_renamed',
      projectId: PID,
      taskIds: [],
      name: 'Renamed',
      env: {},
      events: [],
      timeline: [],
      strategy: 'simple',
      status: 'idle',
      startedAt: 1,
      lastActivity: 1,
      completedAt: null,
      hostname: 'h',
      platform: 'linux',
    });
    const first = await boot(env);
    expect((await first.ok('GET', '/api/projects/proj_copy')).name).toBe('Copied');
    await first.ok('PUT', '/api/projects/proj_copy', { name: 'Saved' });
    expect(existsSync(at('projects', 'copy-of-project.json'))).toBe(false);
    expect(readStored(at('projects', 'proj_copy.json')).name).toBe('Saved');
    await first.ok('DELETE', '/api/sessions/sess_renamed');
    expect(existsSync(at('sessions', 'old-name.json'))).toBe(false);
    await first.stop();

    const second = await boot(env);
    expect((await second.call('GET', '/api/sessions/sess_renamed')).status).toBe(404);
    expect((await second.ok('GET', '/api/projects/proj_copy')).name).toBe('Saved');
    await second.stop();
  });
});

describe('the durable fs driver', () => {
  it('lists only under the base it is asked for, and everything without one', async () => {
    const dir = tempDir('maestro-driver-');
    const storage = createStorage({ driver: durableFsDriver({ base: dir }) });
    await storage.setItem('tasks:proj_a:task_1.json', '{}');
    await storage.setItem('sessions:sess_1.json', '{}');
    writeFileSync(join(dir, 'tasks', 'proj_a', '.half-written.tmp'), '{');
    expect(await storage.getKeys('tasks')).toEqual(['tasks:proj_a:task_1.json']);
    expect(await storage.getKeys('tasks:proj_a')).toEqual(['tasks:proj_a:task_1.json']);
    expect(await storage.getKeys('queues')).toEqual([]);
    expect((await storage.getKeys()).sort()).toEqual(['sessions:sess_1.json', 'tasks:proj_a:task_1.json']);
    await expect(storage.getKeys('..:etc')).rejects.toThrow();
  });
});

describe('a data directory written by contract 2 (one file per entity and an event log; no journal, no snapshot)', () => {
  const P = 'proj_1796577235769_381o1erov';
  const [WORKER, READER] = ['sess_1796577236774_2543gzmq8', 'sess_1796577258358_3f3l9aaei'];
  const TOKEN = 'mst_0-YbF91f3jDKalen0qntOp5IfTam4nNG';
  const t0 = 1796577235769;
  const project = { id: P, name: 'Old project', workingDir: '/srv/repo', description: 'from contract 2', createdAt: t0, updatedAt: t0 };
  const task = (id: string, title: string, extra: object = {}) => ({
    id,
    projectId: P,
    parentId: null,
    title,
    description: '',
    status: 'todo',
    priority: 'medium',
    createdAt: t0 + 1,
    updatedAt: t0 + 1,
    startedAt: null,
    completedAt: null,
    initialPrompt: '',
    sessionIds: [],
    skillIds: [],
    agentIds: [],
    dependencies: [],
    ...extra,
  });
  const design = task('task_1796577235983_3kj2kgcg0', 'Design', {
    status: 'in_progress',
    startedAt: t0 + 5,
    sessionIds: [WORKER],
    claim: { sessionId: WORKER, claimedAt: t0 + 5, expiresAt: 4102444800000, leaseMs: 900000 },
  });
  const build = task('task_1796577236312_2ah3vyajz', 'Build', { dependencies: [design.id], sessionIds: [READER] });
  // Contract 2 kept every timeline entry in the session: 130 of them, before sessions were bounded (§24.9).
  const timeline = Array.from({ length: 130 }, (_, i) => ({
    id: `evt_${t0 + 10 + i}_step${i}`,
    timestamp: t0 + 10 + i,
    type: i ? 'progress' : 'session_started',
    message: i ? `step ${i}` : 'Session created',
  }));
  const session = (id: string, name: string, extra: object) => ({
    id,
    projectId: P,
    taskIds: [],
    name,
    env: { MAESTRO_SESSION_ID: id },
    strategy: 'simple',
    status: 'working',
    startedAt: t0 + 2,
    lastActivity: t0 + 2,
    completedAt: null,
    hostname: 'build-1',
    platform: 'linux',
    events: [],
    timeline: timeline.slice(0, 1),
    host: null,
    agent: null,
    run: null,
    ...extra,
  });
  const worker = session(WORKER, 'Worker', {
    taskIds: [design.id],
    timeline,
    host: 'fleet',
    agent: 'shell',
    run: { state: 'running', pid: 4242, launchedAt: t0 + 3 },
  });
  const reader = session(READER, 'Reader', { taskIds: [build.id], strategy: 'queue', status: 'idle' });
  const message = (id: string, to: string, status: string, extra: object = {}) => ({
    id,
    from: to === WORKER ? READER : WORKER,
    to,
    projectId: P,
    message: `${status} note`,
    status,
    createdAt: t0 + 200,
    deliveredAt: status === 'pending' ? null : t0 + 201,
    readAt: status === 'read' ? t0 + 202 : null,
    expiresAt: null,
    metadata: { priority: 'medium', requiresAck: false },
    ...extra,
  });
  const messages = [message('msg_1796577262281_read', WORKER, 'read'), message('msg_1796577262041_pending', READER, 'pending')];
  const host = {
    name: 'fleet',
    hostname: 'build-1',
    platform: 'linux',
    arch: 'x64',
    version: '1.0.0',
    agents: ['shell'],
    local: false,
    connectedAt: t0,
    lastSeen: t0 + 300,
  };
  const template = {
    id: 'tmpl_1796577262366_custom',
    name: 'Custom',
    role: 'worker',
    content: 'Do it well',
    isDefault: false,
    createdAt: t0,
    updatedAt: t0,
  };
  const queue = {
    sessionId: READER,
    strategy: 'queue',
    items: [{ taskId: build.id, status: 'queued', addedAt: t0 + 2 }],
    currentIndex: -1,
    createdAt: t0 + 2,
    updatedAt: t0 + 2,
  };
  const secret = { sessionId: WORKER, tokenHash: createHash('sha256').update(TOKEN).digest('hex'), createdAt: t0 + 2 };
  // Contract 2's envelopes: no actor (§23 came later).
  const envelope = (seq: number, type: string, data: object, projectId?: string) =>
    JSON.stringify({ type, event: type, data, timestamp: t0 + seq, seq, ...(projectId ? { projectId } : {}) });
  const events = [
    envelope(1, 'host:online', { ...host, status: 'online', sessions: 0 }),
    envelope(2, 'project:created', project, P),
    envelope(3, 'task:created', { ...design, sessionCount: 0 }, P),
    envelope(4, 'message:sent', { id: messages[0]!.id, from: READER, to: WORKER }, P),
  ];

  it("is served whole by today's server, which says it upgrades it; its token, seq and order go on; the next start reads the snapshot", async () => {
    const env = testEnv();
    const at = (...parts: string[]) => join(env.DATA_DIR!, ...parts);
    const file = (path: string, value: unknown) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
    for (const dir of [['projects'], ['tasks', P], ['sessions'], ['queues'], ['templates'], ['hosts'], ['secrets'], ['events']])
      mkdirSync(at(...dir), { recursive: true });
    for (const dir of [WORKER, READER]) mkdirSync(at('messages', 'by-receiver', dir), { recursive: true });
    file(at('projects', `${P}.json`), project);
    for (const t of [design, build]) file(at('tasks', P, `${t.id}.json`), t);
    for (const s of [worker, reader]) file(at('sessions', `${s.id}.json`), s);
    for (const m of messages) file(at('messages', 'by-receiver', m.to, `${m.id}.json`), m);
    file(at('queues', `${READER}.json`), queue);
    file(at('templates', `${template.id}.json`), template);
    file(at('hosts', 'fleet.json'), host);
    file(at('secrets', `${WORKER}.json`), secret);
    writeFileSync(at('events', '000000000001.jsonl'), `${events.join('\n')}\n`);

    const first = await boot(env);
    const { ok, call } = first;
    expect(first.output()).toContain(
      'Upgrading a data directory written by an earlier version (entity files without a commit journal or snapshot): 11 entities and 4 events kept as they are',
    );
    // Every entity as it was written, with what this version adds (§24.9's bound applies at the session's next change).
    expect(await ok('GET', `/api/projects/${P}`)).toEqual(project);
    expect(withoutCount(await ok('GET', `/api/tasks/${design.id}`))).toEqual(design);
    expect(await ok('GET', `/api/tasks/${build.id}`)).toMatchObject({ ...build, blockedBy: [design.id], ready: false });
    expect(await ok('GET', `/api/sessions/${WORKER}`)).toEqual({ ...worker, attention: null, workspace: null });
    expect((await ok('GET', '/api/sessions')).map((s: any) => s.id)).toEqual([WORKER, READER]);
    expect((await ok('GET', `/api/sessions/${READER}/queue`)).queue).toEqual(queue);
    expect(await ok('GET', `/api/sessions/${WORKER}/messages?status=read`)).toEqual([messages[0]]);
    expect(await ok('GET', `/api/sessions/${READER}/messages?status=pending`)).toEqual([messages[1]]);
    expect(await ok('GET', `/api/templates/${template.id}`)).toEqual(template);
    expect(await ok('GET', '/api/hosts/fleet')).toMatchObject({ ...host, status: 'offline' });
    const logged = await ok('GET', '/api/events?since=0');
    expect(logged).toMatchObject({ oldestSeq: 1, latestSeq: 4 });
    expect(logged.events).toEqual(events.map((line) => JSON.parse(line)));

    // The agent's session token still works: it reports, and the report is the next event.
    const report = await fetch(`${first.base}/api/sessions/${WORKER}/timeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ type: 'progress', message: 'after the upgrade' }),
    });
    expect(report.status).toBe(200);
    const after = await ok('GET', '/api/events?since=4');
    expect(after.events[0]).toMatchObject({ seq: 5, type: 'session:updated', actor: { kind: 'session', id: WORKER, name: 'Worker' } });
    const seqs = after.events.map((e: any) => e.seq);
    expect(seqs).toEqual(seqs.map((_: number, i: number) => 5 + i));
    // Now bounded: the newest 100 entries in the session, every one of the 131 through the timeline route.
    const history = await ok('GET', `/api/sessions/${WORKER}/timeline?limit=500`);
    expect(history.entries.map((e: any) => e.message)).toEqual(['after the upgrade', ...timeline.map((e) => e.message).reverse()]);
    expect((await call('GET', `/api/sessions/${WORKER}`)).body.timeline).toHaveLength(100);
    const served = (await ok('GET', '/api/tasks')).map(withoutCount);
    await first.stop();

    const second = await boot(env);
    expect(second.output()).not.toContain('Upgrading');
    // From the snapshot (the files the upgrade's own rewrites changed meanwhile may be read beside it).
    expect(second.output()).toMatch(/Loaded \d+ entities \(snapshot, \d+ changed file\(s\) read\)/);
    expect((await second.ok('GET', '/api/tasks')).map(withoutCount)).toEqual(served);
    expect((await second.ok('GET', '/api/events?since=4')).events.map((e: any) => e.seq)).toEqual(seqs);
    await second.stop();
  });
});
