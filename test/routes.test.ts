import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanRoutes } from '../lib/http/route-table.js';
import { inProcess, ROOT, startServerProcess, tempDir, testEnv } from './helpers.js';

/** The endpoint index of the contract (§3.0), plus the task graph's endpoints (§18.2). */
const CONTRACT = [
  'GET /health',
  'GET /ws-status',
  'GET /api/projects',
  'POST /api/projects',
  'GET /api/projects/:id',
  'PUT /api/projects/:id',
  'DELETE /api/projects/:id',
  'GET /api/tasks',
  'POST /api/tasks',
  'GET /api/tasks/:id',
  'PATCH /api/tasks/:id',
  'DELETE /api/tasks/:id',
  'GET /api/tasks/:id/children',
  'POST /api/tasks/:id/timeline',
  'GET /api/tasks/next',
  'POST /api/tasks/claim-next',
  'POST /api/tasks/:id/claim',
  'DELETE /api/tasks/:id/claim',
  'GET /api/sessions',
  'POST /api/sessions',
  'GET /api/sessions/:id',
  'PATCH /api/sessions/:id',
  'DELETE /api/sessions/:id',
  'POST /api/sessions/:id/events',
  'POST /api/sessions/:id/timeline',
  'GET /api/sessions/:id/timeline',
  'POST /api/sessions/:id/tasks/:taskId',
  'DELETE /api/sessions/:id/tasks/:taskId',
  'POST /api/sessions/spawn',
  'GET /api/sessions/:id/queue',
  'GET /api/sessions/:id/queue/top',
  'GET /api/sessions/:id/queue/items',
  'POST /api/sessions/:id/queue/start',
  'POST /api/sessions/:id/queue/complete',
  'POST /api/sessions/:id/queue/fail',
  'POST /api/sessions/:id/queue/skip',
  'POST /api/sessions/:id/queue/push',
  'GET /api/templates',
  'POST /api/templates',
  'GET /api/templates/:id',
  'PUT /api/templates/:id',
  'DELETE /api/templates/:id',
  'DELETE /api/tokens/:id',
  'GET /api/tokens',
  'POST /api/tokens',
  'GET /api/me',
  'POST /api/templates/:id/reset',
  'GET /api/templates/role/:role',
  'GET /api/templates/default/:role',
  'GET /api/skills',
  'GET /api/skills/:id',
  'GET /api/skills/role/:role',
  'POST /api/skills/:id/reload',
  'POST /api/sessions/:id/messages',
  'GET /api/sessions/:id/messages',
  'GET /api/messages/:id',
  'PATCH /api/messages/:id',
  'DELETE /api/messages/:id',
  // §17
  'GET /api/events',
  'GET /api/events/stream',
  // Contract 2, §19: the API description.
  'GET /api/openapi.json',
  'GET /api/asyncapi.json',
  'GET /api/docs',
  // Contract 2, §15
  'GET /api/hosts',
  'GET /api/hosts/:name',
  'DELETE /api/hosts/:name',
  'POST /api/sessions/:id/stop',
  'POST /api/sessions/:id/input',
  'GET /api/sessions/:id/terminal',
  // Contract 3, §21: agent hooks (`maestro hook`).
  'POST /api/sessions/:id/attention',
  // Contract 3, §20
  'GET /api/sessions/:id/diff',
  'POST /api/sessions/:id/merge',
  'DELETE /api/sessions/:id/workspace',
  // Issue 21: runner tokens, one host name each.
  'POST /api/hosts/:name/token',
];

const table = (routes: { method: string; path: string }[]) => routes.map((r) => `${r.method.toUpperCase()} ${r.path}`);

describe('file-based routes', () => {
  it('registers exactly the contract endpoints from source', async () => {
    const { routes } = await inProcess();
    expect(table(routes).sort()).toEqual([...CONTRACT].sort());
  });

  it('finds the same table in the compiled package', async () => {
    const compiled = await scanRoutes(join(ROOT, 'dist/routes'));
    expect(table(compiled).sort()).toEqual([...CONTRACT].sort());
  });

  it('serves the same table from the bundled server, which needs none of the route files or modules beside it', async () => {
    // The bundle copied alone (with package.json, which names the version): no dist/routes, no node_modules.
    const alone = tempDir();
    mkdirSync(join(alone, 'dist/lib'), { recursive: true });
    copyFileSync(join(ROOT, 'package.json'), join(alone, 'package.json'));
    for (const name of readdirSync(join(ROOT, 'dist/lib')).filter((n) => /^server(-.+)?\.js$/.test(n)))
      copyFileSync(join(ROOT, 'dist/lib', name), join(alone, 'dist/lib', name));
    const env = testEnv({ MAESTRO_TOKEN: '', MAESTRO_ALLOW_INSECURE: '1', LOG_LEVEL: 'info' });
    const server = await startServerProcess(env, join(alone, 'dist/lib/server.js'));
    const base = server.url.replace('//localhost:', '//127.0.0.1:');
    const operations = (paths: Record<string, object>) =>
      Object.entries(paths)
        .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
        .sort();
    const served = operations((await (await fetch(`${base}/api/openapi.json`)).json()).paths);
    const { app } = await inProcess();
    expect(served).toEqual(operations((await (await app.request('/api/openapi.json')).json()).paths));
    expect(served.length).toBeGreaterThan(60);
    expect((await fetch(`${base}/api/tasks/next?projectId=proj_missing`)).status).toBe(404);
    expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ status: 'ok' });
  });

  it('registers static segments before parameters', async () => {
    const paths = table(await scanRoutes()).map((r) => r.split(' ')[1]!);
    for (const [i, path] of paths.entries()) {
      for (const later of paths.slice(i + 1)) {
        // A later route must not be a static path that an earlier parameter route would capture.
        const pattern = new RegExp(`^${path.replace(/:\w+/g, '[^/]+')}$`);
        if (pattern.test(later) && later !== path) throw new Error(`${path} is registered before ${later}`);
      }
    }
  });

  it('answers every registered route (no route falls through to the JSON 404)', async () => {
    const { routes, call, app } = await inProcess();
    for (const route of routes) {
      const method = route.method.toUpperCase();
      if (route.path === '/api/events/stream') {
        // A stream never ends: its headers say it answered.
        const res = await app.request(route.path);
        expect(res.headers.get('content-type')).toBe('text/event-stream');
        await res.body?.cancel();
        continue;
      }
      const res = await call(method, route.path.replace(/:\w+/g, 'x'), method === 'GET' ? undefined : {});
      expect(res.body?.message, `${route.method} ${route.path}`).not.toBe('Route not found');
    }
  });
});
