import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectError, tick } from './assertions.js';
import { type Call, inProcess, startTestServer, tempDir } from './helpers.js';

/** Templates (contract §2.7, §3.6, §9): seeding, CRUD, reset, role lookups, and the template:* events [OP-23]. */

const ROLE_MESSAGE = 'Invalid role. Must be "worker" or "orchestrator"';
const PLACEHOLDERS = [
  '${TASK_ID}',
  '${TASK_TITLE}',
  '${TASK_DESCRIPTION}',
  '${TASK_PRIORITY}',
  '${ACCEPTANCE_CRITERIA}',
  '${CODEBASE_CONTEXT}',
  '${RELATED_TASKS}',
  '${PROJECT_STANDARDS}',
];
const TEMPLATE_ID = /^tmpl_\d+_[0-9a-z]{1,9}$/;

/** The stored file of a template, after checking it is 2-space pretty JSON (§5). */
function readStored(dataDir: string, id: string) {
  const text = readFileSync(join(dataDir, 'templates', `${id}.json`), 'utf8');
  const value = JSON.parse(text);
  expect(text.trimEnd()).toBe(JSON.stringify(value, null, 2));
  return value;
}

const templateFiles = (dataDir: string) =>
  readdirSync(join(dataDir, 'templates'))
    .filter((f) => f.endsWith('.json'))
    .sort();

// One real server for the event tests; its lifetime is the file's.
const server = await startTestServer();
const ws = await server.listen();

let call: Call;
let dataDir: string;
let close: () => Promise<void>;
beforeEach(async () => {
  ({
    call,
    close,
    config: { dataDir },
  } = await inProcess());
});

const list = async () => (await call('GET', '/api/templates')).body as any[];
const defaultOf = async (role: string) => (await list()).find((t) => t.role === role && t.isDefault);
const builtIn = async (role: string) => (await call('GET', `/api/templates/default/${role}`)).body.content as string;

async function create(body: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/templates', { name: 'Terse worker', role: 'worker', content: 'Do ${TASK_TITLE}.', ...body });
  expect(res.status).toBe(201);
  return res.body;
}

describe('startup seeding', () => {
  it('seeds exactly one isDefault template per role, with the built-in content, on disk in DATA_DIR/templates/', async () => {
    const res = await call('GET', '/api/templates');
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    const worker = res.body.find((t: any) => t.role === 'worker');
    const orchestrator = res.body.find((t: any) => t.role === 'orchestrator');
    for (const [template, name, role] of [
      [worker, 'Default Worker Template', 'worker'],
      [orchestrator, 'Default Orchestrator Template', 'orchestrator'],
    ] as const) {
      expect(template).toEqual({
        id: expect.stringMatching(TEMPLATE_ID),
        name,
        role,
        content: await builtIn(role),
        isDefault: true,
        createdAt: expect.any(Number),
        updatedAt: template.createdAt,
      });
      expect(readStored(dataDir, template.id)).toEqual(template);
    }
    expect(templateFiles(dataDir)).toEqual([`${worker.id}.json`, `${orchestrator.id}.json`].sort());
  });

  it('built-in content carries the CLI placeholders, and ${ALL_TASKS} in the worker template', async () => {
    const worker = await defaultOf('worker');
    const orchestrator = await defaultOf('orchestrator');
    for (const placeholder of PLACEHOLDERS) {
      expect(worker.content).toContain(placeholder);
      expect(orchestrator.content).toContain(placeholder);
    }
    expect(worker.content).toContain('${ALL_TASKS}');
    expect(worker.content).not.toBe(orchestrator.content);
  });

  it('does not seed again on a restart on the same DATA_DIR, and keeps edits', async () => {
    const before = await list();
    const worker = before.find((t) => t.role === 'worker');
    await tick();
    const edited = (await call('PUT', `/api/templates/${worker.id}`, { content: 'edited before restart' })).body;
    const custom = await create();

    await close();
    const restarted = await inProcess({ DATA_DIR: dataDir });
    const after = (await restarted.call('GET', '/api/templates')).body as any[];
    expect(after).toHaveLength(3);
    expect(
      after
        .filter((t) => t.isDefault)
        .map((t) => t.id)
        .sort(),
    ).toEqual(before.map((t) => t.id).sort());
    expect(after.find((t) => t.id === worker.id)).toEqual(edited);
    expect(after.find((t) => t.id === custom.id)).toEqual(custom);
    expect(templateFiles(dataDir)).toHaveLength(3);
  });

  it('seeds again only the role whose template is gone from disk', async () => {
    const worker = await defaultOf('worker');
    const orchestrator = await defaultOf('orchestrator');
    await close();
    rmSync(join(dataDir, 'templates', `${worker.id}.json`));

    const restarted = await inProcess({ DATA_DIR: dataDir });
    const after = (await restarted.call('GET', '/api/templates')).body as any[];
    expect(after).toHaveLength(2);
    expect(after.find((t) => t.role === 'orchestrator')).toEqual(orchestrator);
    const reseeded = after.find((t) => t.role === 'worker');
    expect(reseeded).toMatchObject({ name: 'Default Worker Template', isDefault: true, content: worker.content });
    expect(reseeded.id).not.toBe(worker.id);
    expect(readStored(dataDir, reseeded.id)).toEqual(reseeded);
  });

  it('seeds each fresh DATA_DIR', async () => {
    const other = tempDir();
    const fresh = await inProcess({ DATA_DIR: other });
    expect((await fresh.call('GET', '/api/templates')).body).toHaveLength(2);
    expect(templateFiles(other)).toHaveLength(2);
  });
});

describe('POST /api/templates', () => {
  it('creates a non-default template, answers 201 and writes templates/<id>.json', async () => {
    const before = Date.now();
    const res = await call('POST', '/api/templates', { name: 'Terse worker', role: 'worker', content: 'Do ${TASK_TITLE}.' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(TEMPLATE_ID),
      name: 'Terse worker',
      role: 'worker',
      content: 'Do ${TASK_TITLE}.',
      isDefault: false,
      createdAt: expect.any(Number),
      updatedAt: res.body.createdAt,
    });
    expect(res.body.createdAt).toBeGreaterThanOrEqual(before);
    expect(readStored(dataDir, res.body.id)).toEqual(res.body);
    expect(await list()).toContainEqual(res.body);
    expect((await call('GET', `/api/templates/${res.body.id}`)).body).toEqual(res.body);
  });

  it('stores the content exactly as sent, placeholders unrendered', async () => {
    const content = '# ${TASK_TITLE}\n\n  indented ${ALL_TASKS}\n\ttab\n';
    expect((await create({ role: 'orchestrator', content })).content).toBe(content);
  });

  it('ignores isDefault, id and unknown fields in the body', async () => {
    const res = await create({ isDefault: true, id: 'tmpl_mine', createdAt: 1, extra: 'x' });
    expect(res.isDefault).toBe(false);
    expect(res.id).not.toBe('tmpl_mine');
    expect(res.createdAt).not.toBe(1);
    expect(res).not.toHaveProperty('extra');
    expect(readStored(dataDir, res.id)).not.toHaveProperty('extra');
  });

  it.each([
    ['an empty body', {}],
    ['no name', { role: 'worker', content: 'c' }],
    ['no role', { name: 'n', content: 'c' }],
    ['no content', { name: 'n', role: 'worker' }],
    ['a blank name', { name: '   ', role: 'worker', content: 'c' }],
    ['an empty content', { name: 'n', role: 'worker', content: '' }],
    ['null fields', { name: null, role: null, content: null }],
  ])('refuses %s with 400 "name, role, and content are required"', async (_what, body) => {
    const files = templateFiles(dataDir);
    expectError(await call('POST', '/api/templates', body), 400, 'VALIDATION_ERROR', 'name, role, and content are required');
    expect(templateFiles(dataDir)).toEqual(files);
  });

  it('refuses a blank name or content, as a create does, changing nothing', async () => {
    const template = await create();
    expectError(await call('PUT', `/api/templates/${template.id}`, { content: '  ' }), 400, 'VALIDATION_ERROR', 'content cannot be empty');
    expectError(await call('PUT', `/api/templates/${template.id}`, { name: '' }), 400, 'VALIDATION_ERROR', 'name cannot be empty');
    expect(readStored(dataDir, template.id)).toEqual(template);
  });

  it('answers the same when there is no body at all', async () => {
    expectError(await call('POST', '/api/templates'), 400, 'VALIDATION_ERROR', 'name, role, and content are required');
  });

  it.each(['admin', 'Worker', 'workers'])('refuses the role %s with 400 and the role message', async (role) => {
    expectError(await call('POST', '/api/templates', { name: 'n', role, content: 'c' }), 400, 'VALIDATION_ERROR', ROLE_MESSAGE);
    expect(await list()).toHaveLength(2);
  });

  it('refuses a body that is not JSON with 400 INVALID_JSON', async () => {
    expectError(await call('POST', '/api/templates', '{"name":'), 400, 'INVALID_JSON');
  });
});

describe('GET /api/templates/:id', () => {
  it('answers 404 NOT_FOUND for an unknown id', async () => {
    expectError(await call('GET', '/api/templates/tmpl_1_nope'), 404, 'NOT_FOUND');
  });

  it('answers 404 NOT_FOUND for an id that is not a valid ID', async () => {
    expectError(await call('GET', '/api/templates/..%2Fprojects'), 404, 'NOT_FOUND');
  });
});

describe('PUT /api/templates/:id', () => {
  it('changes the name only, keeping content, role, isDefault and createdAt; bumps updatedAt; rewrites the file', async () => {
    const template = await create();
    await tick();
    const res = await call('PUT', `/api/templates/${template.id}`, { name: 'Renamed' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...template, name: 'Renamed', updatedAt: expect.any(Number) });
    expect(res.body.updatedAt).toBeGreaterThan(template.updatedAt);
    expect(readStored(dataDir, template.id)).toEqual(res.body);
    expect((await call('GET', `/api/templates/${template.id}`)).body).toEqual(res.body);
  });

  it('changes the content only', async () => {
    const template = await create();
    const res = await call('PUT', `/api/templates/${template.id}`, { content: 'New ${TASK_ID}' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...template, content: 'New ${TASK_ID}', updatedAt: expect.any(Number) });
    expect(readStored(dataDir, template.id)).toEqual(res.body);
  });

  it('changes both', async () => {
    const template = await create();
    const res = await call('PUT', `/api/templates/${template.id}`, { name: 'Both', content: 'both' });
    expect(res.body).toMatchObject({ id: template.id, name: 'Both', content: 'both', role: 'worker', isDefault: false });
  });

  it('cannot change role or isDefault', async () => {
    const template = await create();
    const res = await call('PUT', `/api/templates/${template.id}`, { name: 'Still a worker', role: 'orchestrator', isDefault: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ role: 'worker', isDefault: false, name: 'Still a worker' });

    const worker = await defaultOf('worker');
    const def = await call('PUT', `/api/templates/${worker.id}`, { content: 'mine', isDefault: false, role: 'orchestrator' });
    expect(def.body).toMatchObject({ id: worker.id, role: 'worker', isDefault: true, content: 'mine', name: 'Default Worker Template' });
    expect(readStored(dataDir, worker.id)).toEqual(def.body);
  });

  it.each([
    ['an empty body', {}],
    ['only role and isDefault', { role: 'orchestrator', isDefault: true }],
  ])('refuses %s with 400 "At least one of name or content is required"', async (_what, body) => {
    const template = await create();
    const res = await call('PUT', `/api/templates/${template.id}`, body);
    expectError(res, 400, 'VALIDATION_ERROR', 'At least one of name or content is required');
    expect(readStored(dataDir, template.id)).toEqual(template);
  });

  it('answers the same when there is no body at all', async () => {
    const template = await create();
    expectError(await call('PUT', `/api/templates/${template.id}`), 400, 'VALIDATION_ERROR', 'At least one of name or content is required');
  });

  it('answers 404 NOT_FOUND for an unknown id', async () => {
    expectError(await call('PUT', '/api/templates/tmpl_1_nope', { name: 'x' }), 404, 'NOT_FOUND');
    expect(templateFiles(dataDir)).toHaveLength(2);
  });
});

describe('DELETE /api/templates/:id', () => {
  it('deletes a created template and removes its file', async () => {
    const template = await create();
    const res = await call('DELETE', `/api/templates/${template.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, id: template.id });
    expect(existsSync(join(dataDir, 'templates', `${template.id}.json`))).toBe(false);
    expectError(await call('GET', `/api/templates/${template.id}`), 404, 'NOT_FOUND');
    expect(await list()).toHaveLength(2);
    expectError(await call('DELETE', `/api/templates/${template.id}`), 404, 'NOT_FOUND');
  });

  it.each(['worker', 'orchestrator'])('refuses to delete the default %s template with 400 VALIDATION_ERROR', async (role) => {
    const template = await defaultOf(role);
    expectError(await call('DELETE', `/api/templates/${template.id}`), 400, 'VALIDATION_ERROR');
    expect((await call('GET', `/api/templates/${template.id}`)).body).toEqual(template);
    expect(readStored(dataDir, template.id)).toEqual(template);
  });

  it('answers 404 NOT_FOUND for an unknown id', async () => {
    expectError(await call('DELETE', '/api/templates/tmpl_1_nope'), 404, 'NOT_FOUND');
  });
});

describe('POST /api/templates/:id/reset', () => {
  it('restores the built-in content of a default template; its edited name and isDefault stay', async () => {
    const worker = await defaultOf('worker');
    const original = worker.content;
    await call('PUT', `/api/templates/${worker.id}`, { name: 'My worker prompt', content: 'scribbles' });
    await tick();
    const res = await call('POST', `/api/templates/${worker.id}/reset`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...worker,
      name: 'My worker prompt',
      content: original,
      updatedAt: expect.any(Number),
    });
    expect(res.body.updatedAt).toBeGreaterThan(worker.updatedAt);
    expect(readStored(dataDir, worker.id)).toEqual(res.body);
  });

  it('gives a created template the built-in content of its role; it stays non-default', async () => {
    const template = await create({ role: 'orchestrator', name: 'Custom orchestrator' });
    const res = await call('POST', `/api/templates/${template.id}/reset`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...template, content: await builtIn('orchestrator'), updatedAt: expect.any(Number) });
    expect(res.body.isDefault).toBe(false);
    expect(await list()).toHaveLength(3);
  });

  it('answers 404 NOT_FOUND for an unknown id', async () => {
    expectError(await call('POST', '/api/templates/tmpl_1_nope/reset'), 404, 'NOT_FOUND');
  });
});

describe('GET /api/templates/role/:role', () => {
  it.each(['worker', 'orchestrator'])('answers the isDefault %s template, even when others of the role exist', async (role) => {
    const seeded = await defaultOf(role);
    await create({ role, name: 'Older custom' });
    await create({ role, name: 'Newer custom' });
    const res = await call('GET', `/api/templates/role/${role}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(seeded);
  });

  it('answers the default as edited', async () => {
    const worker = await defaultOf('worker');
    const edited = (await call('PUT', `/api/templates/${worker.id}`, { content: 'edited' })).body;
    expect((await call('GET', '/api/templates/role/worker')).body).toEqual(edited);
  });

  it.each(['admin', 'Worker', 'default'])('refuses the role %s with 400 and the role message', async (role) => {
    expectError(await call('GET', `/api/templates/role/${role}`), 400, 'VALIDATION_ERROR', ROLE_MESSAGE);
  });
});

describe('GET /api/templates/default/:role', () => {
  it.each(['worker', 'orchestrator'])('answers { role, content } with the built-in %s text and creates nothing', async (role) => {
    const seeded = await defaultOf(role);
    await call('PUT', `/api/templates/${seeded.id}`, { content: 'customised' });
    const before = await list();
    const files = templateFiles(dataDir);

    const res = await call('GET', `/api/templates/default/${role}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ role, content: seeded.content });
    expect(await list()).toEqual(before);
    expect(templateFiles(dataDir)).toEqual(files);
  });

  it.each(['admin', 'Orchestrator'])('refuses the role %s with 400 and the role message', async (role) => {
    expectError(await call('GET', `/api/templates/default/${role}`), 400, 'VALIDATION_ERROR', ROLE_MESSAGE);
  });
});

describe('template events over a real WebSocket [OP-23]', () => {
  beforeEach(async () => {
    await ws.drain();
  });

  // Made on a tokenless loopback server: the actor is the admin (§23).
  const envelope = (type: string, data: unknown) => ({
    type,
    event: type,
    data,
    timestamp: expect.any(Number),
    seq: expect.any(Number),
    actor: { kind: 'admin' },
  });

  it('POST emits template:created with the full template', async () => {
    const res = await server.call('POST', '/api/templates', { name: 'Evented', role: 'orchestrator', content: 'x' });
    expect(res.status).toBe(201);
    expect(await ws.drain()).toEqual([envelope('template:created', res.body)]);
  });

  it('PUT and reset emit template:updated with the full template', async () => {
    const created = (await server.call('POST', '/api/templates', { name: 'Evented', role: 'worker', content: 'x' })).body;
    await ws.drain();
    const put = await server.call('PUT', `/api/templates/${created.id}`, { name: 'Renamed', content: 'y' });
    expect(await ws.drain()).toEqual([envelope('template:updated', put.body)]);
    const reset = await server.call('POST', `/api/templates/${created.id}/reset`);
    expect(reset.body.content).not.toBe('y');
    expect(await ws.drain()).toEqual([envelope('template:updated', reset.body)]);
  });

  it('DELETE emits template:deleted { id }', async () => {
    const created = (await server.call('POST', '/api/templates', { name: 'Doomed', role: 'worker', content: 'x' })).body;
    await ws.drain();
    expect((await server.call('DELETE', `/api/templates/${created.id}`)).status).toBe(200);
    expect(await ws.drain()).toEqual([envelope('template:deleted', { id: created.id })]);
  });

  it('refused operations and reads emit nothing', async () => {
    const worker = (await server.call('GET', '/api/templates/role/worker')).body;
    expect((await server.call('DELETE', `/api/templates/${worker.id}`)).status).toBe(400);
    expect((await server.call('PUT', `/api/templates/${worker.id}`, {})).status).toBe(400);
    expect((await server.call('PUT', '/api/templates/tmpl_1_nope', { name: 'x' })).status).toBe(404);
    expect((await server.call('POST', '/api/templates', { name: 'x', role: 'admin', content: 'c' })).status).toBe(400);
    expect((await server.call('POST', '/api/templates/tmpl_1_nope/reset')).status).toBe(404);
    expect((await server.call('GET', '/api/templates/default/worker')).status).toBe(200);
    expect((await server.call('GET', '/api/templates')).status).toBe(200);
    expect(await ws.drain()).toEqual([]);
  });
});
