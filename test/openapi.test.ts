import { describe, expect, it } from 'vitest';
import { EVENT_DATA } from '../lib/domain/entities.js';
import { openApiPath } from '../lib/http/openapi.js';
import { inProcess, startTestServer } from './helpers.js';

const refsOf = (node: unknown, found: string[] = []): string[] => {
  if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else refsOf(value, found);
    }
  }
  return found;
};
const resolve = (doc: any, ref: string) =>
  ref
    .slice(2)
    .split('/')
    .reduce((node, key) => node?.[key], doc);

describe('GET /api/openapi.json', () => {
  it('describes exactly the registered routes, each with a summary and the error body', async () => {
    const { routes, call } = await inProcess();
    const { status, body: doc } = await call('GET', '/api/openapi.json');
    expect(status).toBe(200);
    expect(doc.openapi).toBe('3.1.0');
    const described = Object.entries<Record<string, any>>(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const registered = routes.map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`);
    const undescribed = routes.filter((r) => !r.doc).map((r) => `${r.file}: add \`export const describe: RouteDoc = { summary, … }\``);
    expect(undescribed).toEqual([]);
    expect(described.sort()).toEqual(registered.sort());
    for (const ops of Object.values<Record<string, any>>(doc.paths)) {
      for (const op of Object.values(ops)) {
        expect(op.summary).toBeTruthy();
        expect(op.responses.default.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
      }
    }
    // Every reference resolves.
    for (const ref of refsOf(doc)) expect(resolve(doc, ref), ref).toBeDefined();
  });

  it('is generated from the schemas that validate the requests', async () => {
    const { call } = await inProcess();
    const { body: doc } = await call('GET', '/api/openapi.json');
    const createTask = doc.paths['/api/tasks'].post;
    const body = createTask.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['projectId', 'title']);
    // Without a body, required fields are missing and the request is refused: the body is required. A body whose
    // fields are all optional may be left out (it is read as {}).
    expect(createTask.requestBody.required).toBe(true);
    expect((await call('POST', '/api/tasks')).status).toBe(400);
    expect(doc.paths['/api/sessions/spawn'].post.requestBody.required).toBe(true);
    expect(doc.paths['/api/tasks/{id}'].patch.requestBody.required).toBe(false);
    expect(body.properties.priority).toMatchObject({ enum: ['low', 'medium', 'high'], default: 'medium' });
    expect(createTask.responses['201'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Task' });
    const listTasks = doc.paths['/api/tasks'].get;
    const status = listTasks.parameters.find((p: any) => p.name === 'status');
    expect(status).toMatchObject({ in: 'query', required: false });
    expect(status.schema.enum).toEqual(expect.arrayContaining(['todo', 'in_progress', 'pending']));
    expect(listTasks.responses['200'].content['application/json'].schema).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/Task' },
    });
    expect(doc.paths['/api/tasks/{id}'].get.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    // Fields that are required although their valibot schema starts as nullish, and objects behind a pipe.
    const session = doc.paths['/api/sessions'].post.requestBody.content['application/json'].schema;
    expect(session.required).toEqual(['taskIds', 'projectId']);
    expect(session.properties.env).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
    expect(doc.components.schemas.Error.required).toEqual(['error', 'code', 'message']);
  });

  it('names the refusals routes really give, under their status', async () => {
    const { call } = await inProcess();
    const { body: doc } = await call('GET', '/api/openapi.json');
    const project = await call('POST', '/api/projects', { name: 'Refusals' });
    const task = await call('POST', '/api/tasks', { projectId: project.body.id, title: 'Refused' });
    const session = await call('POST', '/api/sessions', { projectId: project.body.id, taskIds: [task.body.id] });
    const s = `/api/sessions/${session.body.id}`;
    const probes: [method: string, path: string, documented: string, body?: unknown][] = [
      // A session that does not use the queue strategy.
      ...['queue', 'queue/items', 'queue/top'].map((q) => ['GET', `${s}/${q}`, `/api/sessions/{id}/${q}`] as [string, string, string]),
      ...['start', 'complete', 'fail', 'skip'].map(
        (q) => ['POST', `${s}/queue/${q}`, `/api/sessions/{id}/queue/${q}`, {}] as [string, string, string, unknown],
      ),
      ['POST', `${s}/queue/push`, '/api/sessions/{id}/queue/push', { taskId: task.body.id }],
      ['GET', '/api/templates/role/nobody', '/api/templates/role/{role}'],
      ['GET', '/api/templates/default/nobody', '/api/templates/default/{role}'],
      ['GET', '/api/skills/role/nobody', '/api/skills/role/{role}'],
      ['POST', '/api/sessions/spawn', '/api/sessions/spawn', {}],
      ['POST', '/api/sessions/spawn', '/api/sessions/spawn', { projectId: project.body.id, taskIds: [task.body.id], host: 'nowhere' }],
      // A session without a worktree.
      ['POST', `${s}/merge`, '/api/sessions/{id}/merge', {}],
      ['DELETE', `${s}/workspace`, '/api/sessions/{id}/workspace'],
    ];
    for (const [method, path, documented, body] of probes) {
      const answer = await call(method, path, body);
      const described = doc.paths[documented][method.toLowerCase()].responses[answer.status]?.description;
      expect(described, `${method} ${path} answered ${answer.status} ${answer.body.code}`).toContain(answer.body.code);
    }
  });

  it('describes what the server really answers', async () => {
    const { call } = await inProcess();
    const { body: doc } = await call('GET', '/api/openapi.json');
    const project = await call('POST', '/api/projects', { name: 'Docs' });
    const task = await call('POST', '/api/tasks', { projectId: project.body.id, title: 'Check' });
    const session = await call('POST', '/api/sessions', { projectId: project.body.id, taskIds: [task.body.id] });
    expect(session.status).toBe(201);
    // §13.1: a timeline entry may carry a type of the client's own; the description allows it.
    const custom = await call('POST', `/api/sessions/${session.body.id}/timeline`, { type: 'task_status_changed', message: 'moved' });
    expect(custom.status).toBe(200);
    const entry = custom.body.timeline.at(-1);
    expect(entry.type).toBe('task_status_changed');
    const typeSchema = doc.components.schemas.TimelineEntry.properties.type;
    const allows = (schema: any, value: string): boolean =>
      schema.enum?.includes(value) ||
      (schema.pattern !== undefined && new RegExp(schema.pattern).test(value)) ||
      schema.anyOf?.some((s: any) => allows(s, value));
    expect(allows(typeSchema, entry.type)).toBe(true);
    expect(allows(typeSchema, 'Not Snake')).toBe(false);
    for (const [name, value] of [
      ['Project', project.body],
      ['Task', task.body],
      ['Session', session.body],
    ] as const) {
      const schema = doc.components.schemas[name];
      expect(
        Object.keys(value).filter((k) => !(k in schema.properties)),
        name,
      ).toEqual([]);
      expect(
        schema.required.filter((k: string) => !(k in value)),
        name,
      ).toEqual([]);
    }
  });
});

describe('GET /api/docs', () => {
  it('is the API explorer built into the package, open without the token while the description needs it', async () => {
    const server = await startTestServer({ MAESTRO_TOKEN: 'docs-token' });
    const page = await fetch(`${server.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    // Its files come from the package (no CDN) and need no token: they hold no data.
    const files = [...html.matchAll(/(?:src|href)="(\/ui\/explorer\/[^"]+)"/g)].map((m) => m[1]!);
    expect(files).toEqual(['/ui/explorer/swagger-ui.css', '/ui/explorer/swagger-ui-bundle.js', '/ui/explorer/init.js']);
    for (const file of files) expect((await fetch(server.url + file)).status, file).toBe(200);
    expect((await fetch(`${server.url}/api/openapi.json`)).status).toBe(401);
    const doc = await fetch(`${server.url}/api/openapi.json`, { headers: { authorization: 'Bearer docs-token' } });
    expect(doc.status).toBe(200);
  });
});

describe('GET /api/asyncapi.json', () => {
  it('describes the envelope and the data of every event', async () => {
    const server = await startTestServer();
    const { body: doc } = await server.call('GET', '/api/asyncapi.json');
    expect(doc.asyncapi).toBe('3.0.0');
    const names = Object.values<any>(doc.components.messages).map((m) => m.name);
    expect(names.sort()).toEqual(Object.keys(EVENT_DATA).sort());
    for (const ref of refsOf(doc)) expect(resolve(doc, ref), ref).toBeDefined();

    // A real event matches its description.
    const socket = await server.listen();
    await server.call('POST', '/api/projects', { name: 'Events' });
    const [event] = (await socket.drain()).filter((m: any) => m.type === 'project:created');
    const envelope = doc.components.schemas.Envelope;
    expect(envelope.required.filter((k: string) => !(k in event))).toEqual([]);
    expect(Object.keys(event).filter((k) => !(k in envelope.properties))).toEqual([]);
    const message = doc.components.messages['project.created'];
    expect(message.payload.allOf[1].properties.data).toEqual({ $ref: '#/components/schemas/Project' });
    socket.close();
  });
});
