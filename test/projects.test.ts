import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectError, issuePaths, tick } from './assertions.js';
import { type Call, inProcess, onDatabase } from './helpers.js';

/** Projects (contract §3.2), service endpoints (§3.1), paging and conditional reads (§3.8), unknown routes (§1.1). */

let call: Call;
let dataDir: string;
// Each test's app is closed after it: on PostgreSQL, its connections go with it.
beforeEach(async () => {
  const app = await inProcess();
  ({
    call,
    config: { dataDir },
  } = app);
  return app.close;
});

async function makeProject(body: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/projects', { name: 'Alpha', ...body });
  expect(res.status).toBe(201);
  return res.body;
}

const projectFile = (id: string) => join(dataDir, 'projects', `${id}.json`);

/** The stored file, after checking it is 2-space pretty JSON (§5). */
function readStored(path: string) {
  const text = readFileSync(path, 'utf8');
  const value = JSON.parse(text);
  expect(text.trimEnd()).toBe(JSON.stringify(value, null, 2));
  return value;
}

describe('POST /api/projects', () => {
  it.skipIf(onDatabase())('creates a project with defaults, answers 201 and writes projects/<id>.json', async () => {
    const before = Date.now();
    const res = await call('POST', '/api/projects', { name: '  Alpha  ' });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^proj_\d+_[0-9a-z]{1,9}$/),
      name: 'Alpha',
      workingDir: '',
      description: '',
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    expect(Number.isInteger(res.body.createdAt)).toBe(true);
    expect(res.body.createdAt).toBeGreaterThanOrEqual(before);
    expect(res.body.updatedAt).toBe(res.body.createdAt);
    expect(readStored(projectFile(res.body.id))).toEqual(res.body);
  });

  it('keeps workingDir and description when given', async () => {
    const project = await makeProject({ workingDir: '/srv/alpha', description: 'The first one' });
    expect(project).toMatchObject({ name: 'Alpha', workingDir: '/srv/alpha', description: 'The first one' });
  });

  it.skipIf(onDatabase())('ignores unknown and server-owned fields and never stores them', async () => {
    const res = await call('POST', '/api/projects', {
      name: 'Alpha',
      id: 'proj_mine',
      createdAt: 1,
      updatedAt: 2,
      color: 'red',
      constructor: 'x',
    });
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe('proj_mine');
    expect(res.body.createdAt).not.toBe(1);
    expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'description', 'id', 'name', 'updatedAt', 'workingDir']);
    expect(Object.keys(readStored(projectFile(res.body.id))).sort()).toEqual(Object.keys(res.body).sort());
    expect(existsSync(projectFile('proj_mine'))).toBe(false);
  });

  it.each([
    ['missing', {}],
    ['blank', { name: '   ' }],
    ['null', { name: null }],
  ])('refuses a %s name with 400 "name is required"', async (_, body) => {
    const res = await call('POST', '/api/projects', body);
    expectError(res, 400, 'VALIDATION_ERROR', 'name is required');
    expect(issuePaths(res)).toContain('name');
  });

  it('treats an absent body as {} (so: name is required)', async () => {
    expectError(await call('POST', '/api/projects'), 400, 'VALIDATION_ERROR', 'name is required');
    expectError(await call('POST', '/api/projects', ''), 400, 'VALIDATION_ERROR', 'name is required');
  });

  it('refuses a name of the wrong type, and wrong-typed optional fields', async () => {
    const res = await call('POST', '/api/projects', { name: 42 });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res)).toContain('name');
    const dir = await call('POST', '/api/projects', { name: 'A', workingDir: ['x'] });
    expectError(dir, 400, 'VALIDATION_ERROR');
    expect(issuePaths(dir)).toContain('workingDir');
  });

  it('refuses a JSON body that is not an object with 400 VALIDATION_ERROR', async () => {
    for (const body of ['[{"name":"A"}]', '"Alpha"', '42']) {
      expectError(await call('POST', '/api/projects', body), 400, 'VALIDATION_ERROR');
    }
  });

  it('answers 400 INVALID_JSON for a body that is not JSON, and stores nothing', async () => {
    expectError(await call('POST', '/api/projects', '{"name": "Alpha"'), 400, 'INVALID_JSON');
    expect((await call('GET', '/api/projects')).body).toEqual([]);
  });
});

describe('GET /api/projects', () => {
  it('answers [] when there are none', async () => {
    const res = await call('GET', '/api/projects');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('lists every project in creation order, as served by GET /:id', async () => {
    const a = await makeProject({ name: 'A' });
    const b = await makeProject({ name: 'B' });
    const c = await makeProject({ name: 'C' });
    const res = await call('GET', '/api/projects');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([a, b, c]);
  });
});

describe('GET /api/projects/:id', () => {
  it('answers the project', async () => {
    const project = await makeProject();
    const res = await call('GET', `/api/projects/${project.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(project);
  });

  it.each(['proj_1_nope', 'bad.id', 'x'.repeat(129)])('answers 404 PROJECT_NOT_FOUND for %s', async (id) => {
    expectError(await call('GET', `/api/projects/${id}`), 404, 'PROJECT_NOT_FOUND', 'Project not found');
  });
});

describe('PUT /api/projects/:id', () => {
  it.skipIf(onDatabase())('updates only the given fields, bumps updatedAt and rewrites the file', async () => {
    const project = await makeProject({ workingDir: '/srv/a', description: 'old' });
    await tick();
    const res = await call('PUT', `/api/projects/${project.id}`, { description: 'new' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...project, description: 'new', updatedAt: expect.any(Number) });
    expect(res.body.updatedAt).toBeGreaterThan(project.updatedAt);
    expect(readStored(projectFile(project.id))).toEqual(res.body);
    expect((await call('GET', `/api/projects/${project.id}`)).body).toEqual(res.body);
  });

  it('replaces name (trimmed), workingDir and description together', async () => {
    const project = await makeProject();
    const res = await call('PUT', `/api/projects/${project.id}`, { name: ' Beta ', workingDir: '/b', description: 'd' });
    expect(res.body).toMatchObject({ id: project.id, name: 'Beta', workingDir: '/b', description: 'd' });
  });

  it.skipIf(onDatabase())('ignores id, createdAt and any other key', async () => {
    const project = await makeProject();
    const res = await call('PUT', `/api/projects/${project.id}`, {
      id: 'proj_other',
      createdAt: 5,
      color: 'blue',
      name: 'Renamed',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...project, name: 'Renamed', updatedAt: expect.any(Number) });
    expect(readStored(projectFile(project.id))).toEqual(res.body);
    expect(existsSync(projectFile('proj_other'))).toBe(false);
  });

  it('refuses a blank name with 400 VALIDATION_ERROR and changes nothing', async () => {
    const project = await makeProject();
    const res = await call('PUT', `/api/projects/${project.id}`, { name: '  ' });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res)).toContain('name');
    expect((await call('GET', `/api/projects/${project.id}`)).body).toEqual(project);
  });

  it('answers 404 PROJECT_NOT_FOUND for an unknown project', async () => {
    expectError(await call('PUT', '/api/projects/proj_1_nope', { name: 'X' }), 404, 'PROJECT_NOT_FOUND', 'Project not found');
  });

  it('refuses a workspace that is an array, on create and update, and changes nothing (§20.1)', async () => {
    const project = await makeProject();
    for (const [method, path] of [
      ['POST', '/api/projects'],
      ['PUT', `/api/projects/${project.id}`],
    ] as const) {
      const res = await call(method, path, { name: 'Beta', workspace: [] });
      expectError(res, 400, 'VALIDATION_ERROR', 'workspace must be an object');
      expect(issuePaths(res)).toContain('workspace');
    }
    expect((await call('GET', '/api/projects')).body).toEqual([project]);
  });
});

describe('DELETE /api/projects/:id', () => {
  it('deletes the project and its file', async () => {
    const project = await makeProject();
    const res = await call('DELETE', `/api/projects/${project.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, id: project.id });
    expect(existsSync(projectFile(project.id))).toBe(false);
    expectError(await call('GET', `/api/projects/${project.id}`), 404, 'PROJECT_NOT_FOUND', 'Project not found');
    expect((await call('GET', '/api/projects')).body).toEqual([]);
  });

  it('answers 404 PROJECT_NOT_FOUND for an unknown or already deleted project', async () => {
    const project = await makeProject();
    await call('DELETE', `/api/projects/${project.id}`);
    expectError(await call('DELETE', `/api/projects/${project.id}`), 404, 'PROJECT_NOT_FOUND', 'Project not found');
    expectError(await call('DELETE', '/api/projects/bad.id'), 404, 'PROJECT_NOT_FOUND', 'Project not found');
  });

  it.skipIf(onDatabase())('refuses while tasks reference it, counting them, and keeps everything', async () => {
    const project = await makeProject();
    for (const title of ['one', 'two']) await call('POST', '/api/tasks', { projectId: project.id, title });
    await call('POST', '/api/sessions', { projectId: project.id, taskIds: [] });
    const res = await call('DELETE', `/api/projects/${project.id}`);
    // Tasks are checked first, even when sessions exist too.
    expectError(res, 400, 'PROJECT_HAS_DEPENDENCIES', 'Cannot delete project with 2 existing task(s)');
    expect(existsSync(projectFile(project.id))).toBe(true);
    expect((await call('GET', `/api/projects/${project.id}`)).body).toEqual(project);
    expect((await call('GET', `/api/tasks?projectId=${project.id}`)).body).toHaveLength(2);
  });

  it('refuses while sessions reference it, counting them', async () => {
    const project = await makeProject();
    await call('POST', '/api/sessions', { projectId: project.id, taskIds: [] });
    const res = await call('DELETE', `/api/projects/${project.id}`);
    expectError(res, 400, 'PROJECT_HAS_DEPENDENCIES', 'Cannot delete project with 1 existing session(s)');
    expect((await call('GET', `/api/sessions?projectId=${project.id}`)).body).toHaveLength(1);
  });

  it('succeeds once its tasks and sessions are gone (no cascade)', async () => {
    const project = await makeProject();
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 't' })).body;
    const session = (await call('POST', '/api/sessions', { projectId: project.id, taskIds: [task.id] })).body;
    await call('DELETE', `/api/tasks/${task.id}`);
    expectError(
      await call('DELETE', `/api/projects/${project.id}`),
      400,
      'PROJECT_HAS_DEPENDENCIES',
      'Cannot delete project with 1 existing session(s)',
    );
    await call('DELETE', `/api/sessions/${session.id}`);
    expect((await call('DELETE', `/api/projects/${project.id}`)).body).toEqual({ success: true, id: project.id });
  });
});

describe('paging GET /api/projects (§3.8)', () => {
  it('pages with limit and X-Next-Cursor, in a stable order, with no header on the last page', async () => {
    const all = [];
    for (const name of ['A', 'B', 'C', 'D', 'E']) all.push(await makeProject({ name }));
    const seen = [];
    let res = await call('GET', '/api/projects?limit=2');
    const pages = [res];
    while (res.headers.get('x-next-cursor')) {
      res = await call('GET', `/api/projects?limit=2&cursor=${encodeURIComponent(res.headers.get('x-next-cursor')!)}`);
      pages.push(res);
    }
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(Array.isArray(page.body)).toBe(true);
      seen.push(...page.body);
    }
    expect(pages.map((p) => p.body.length)).toEqual([2, 2, 1]);
    expect(pages.at(-1)!.headers.get('x-next-cursor')).toBeNull();
    expect(seen).toEqual(all);
  });

  it('answers the full array without limit, and one page with no cursor when everything fits', async () => {
    const a = await makeProject({ name: 'A' });
    const b = await makeProject({ name: 'B' });
    const full = await call('GET', '/api/projects');
    expect(full.body).toEqual([a, b]);
    expect(full.headers.get('x-next-cursor')).toBeNull();
    const fits = await call('GET', '/api/projects?limit=2');
    expect(fits.body).toEqual([a, b]);
    expect(fits.headers.get('x-next-cursor')).toBeNull();
  });

  it('continues correctly when the item named by the cursor was deleted', async () => {
    const [a, b, c] = [await makeProject({ name: 'A' }), await makeProject({ name: 'B' }), await makeProject({ name: 'C' })];
    const first = await call('GET', '/api/projects?limit=2');
    expect(first.body).toEqual([a, b]);
    await call('DELETE', `/api/projects/${b.id}`);
    const next = await call('GET', `/api/projects?limit=2&cursor=${first.headers.get('x-next-cursor')}`);
    expect(next.body).toEqual([c]);
  });

  it.each(['0', '1001', '-1', 'abc', '2.5', ''])('refuses limit=%s with 400 VALIDATION_ERROR', async (limit) => {
    const res = await call('GET', `/api/projects?limit=${limit}`);
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(issuePaths(res)).toContain('limit');
  });

  it('accepts the bounds 1 and 1000', async () => {
    await makeProject();
    expect((await call('GET', '/api/projects?limit=1')).status).toBe(200);
    expect((await call('GET', '/api/projects?limit=1000')).status).toBe(200);
  });

  it('refuses a cursor the server did not hand out', async () => {
    await makeProject();
    expectError(await call('GET', '/api/projects?limit=1&cursor=garbage'), 400, 'VALIDATION_ERROR');
  });
});

describe('conditional reads (§3.8)', () => {
  it('answers 304 with no body to a matching If-None-Match, and a new ETag after a change', async () => {
    const project = await makeProject();
    const first = await call('GET', '/api/projects');
    const tag = first.headers.get('etag');
    expect(tag).toBeTruthy();

    const again = await call('GET', '/api/projects', undefined, { 'if-none-match': tag! });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();

    await call('PUT', `/api/projects/${project.id}`, { description: 'changed' });
    const changed = await call('GET', '/api/projects', undefined, { 'if-none-match': tag! });
    expect(changed.status).toBe(200);
    expect(changed.body[0].description).toBe('changed');
    expect(changed.headers.get('etag')).not.toBe(tag);
  });

  it('gives a single project its own ETag', async () => {
    const project = await makeProject();
    const first = await call('GET', `/api/projects/${project.id}`);
    const tag = first.headers.get('etag')!;
    expect((await call('GET', `/api/projects/${project.id}`, undefined, { 'if-none-match': tag })).status).toBe(304);
    await call('PUT', `/api/projects/${project.id}`, { name: 'Other' });
    const changed = await call('GET', `/api/projects/${project.id}`, undefined, { 'if-none-match': tag });
    expect(changed.status).toBe(200);
    expect(changed.body.name).toBe('Other');
  });

  it('changes the ETag of a page when its X-Next-Cursor changes, though the items are the same', async () => {
    await makeProject({ name: 'A' });
    const first = await call('GET', '/api/projects?limit=1');
    expect(first.headers.get('x-next-cursor')).toBeNull();
    await makeProject({ name: 'B' });
    const later = await call('GET', '/api/projects?limit=1', undefined, { 'if-none-match': first.headers.get('etag')! });
    expect(later.status).toBe(200);
    expect(later.headers.get('x-next-cursor')).toBeTruthy();
    const same = await call('GET', '/api/projects?limit=1', undefined, { 'if-none-match': later.headers.get('etag')! });
    expect(same.status).toBe(304);
  });
});

describe('service endpoints (§3.1)', () => {
  it('GET /health answers status, a ms timestamp and the uptime in seconds', async () => {
    const before = Date.now();
    const res = await call('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['status', 'timestamp', 'uptime']);
    expect(res.body.status).toBe('ok');
    expect(Number.isInteger(res.body.timestamp)).toBe(true);
    expect(res.body.timestamp).toBeGreaterThanOrEqual(before);
    expect(res.body.timestamp).toBeLessThanOrEqual(Date.now());
    expect(res.body.uptime).toEqual(expect.any(Number));
    expect(res.body.uptime).toBeGreaterThan(0);
    expect(res.body.uptime).toBeLessThanOrEqual(process.uptime());
  });

  it('GET /ws-status answers the connected clients (none without a socket)', async () => {
    const res = await call('GET', '/ws-status');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ connectedClients: 0, clients: [] });
  });
});

describe('unknown routes (§1.1)', () => {
  it.each([
    ['GET', '/nope'],
    ['GET', '/api/nope'],
    ['POST', '/api/projects/x/y/z'],
    ['PATCH', '/api/projects'],
    ['PUT', '/api/tasks/task_1'],
  ])('%s %s answers the JSON 404', async (method, path) => {
    const res = await call(method, path, method === 'GET' ? undefined : {});
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: true, code: 'NOT_FOUND', message: 'Route not found' });
  });
});

describe('IDs made in one millisecond', () => {
  it('sort in the order they were made, and match the contract pattern', async () => {
    const { newId } = await import('../lib/ids.js');
    const ids = Array.from({ length: 500 }, (_, i) => newId(i % 2 ? 'proj' : 'task', 1_796_000_000_000));
    const rands = ids.map((id) => id.split('_')[2]!);
    expect([...rands].sort()).toEqual(rands);
    for (const id of ids) expect(id).toMatch(/^(proj|task)_1796000000000_[0-9a-z]{9}$/);
    expect(new Set(ids).size).toBe(500);
  });
});
