// Finds the route files under `routes/` and registers them, static segments before parameters.
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Handler, Hono } from 'hono';
import type * as v from 'valibot';
import { CODE_ROOT } from '../package-root.js';
import { BUNDLED_ROUTES } from './bundled-routes.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = (typeof METHODS)[number];

/**
 * How a route file describes itself for `/api/openapi.json`: `export const describe: RouteDoc = { … }` next to its
 * default handler. Path parameters come from the file name; every operation also gets the error body.
 */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** Defaults to the path's first segment after `/api` (`projects`, `tasks`, …). */
  tag?: string;
  /** The JSON body schema: the same one the handler validates with. */
  body?: v.GenericSchema;
  /** An object schema of the query string: each entry becomes a query parameter. */
  query?: v.GenericSchema;
  /** The success body; `[Schema]` for an array of it. */
  response?: v.GenericSchema | [v.GenericSchema];
  /** The success status: 200 unless given. */
  status?: 200 | 201 | 204;
  /** Error statuses worth naming (each answers the error body), e.g. `{ 404: 'Task not found' }`. */
  errors?: Record<number, string>;
}

/** One endpoint found under `routes/`. */
export interface RouteFile {
  method: Method;
  /** Hono path, e.g. `/api/tasks/:id/children`. */
  path: string;
  file: string;
  /** What the file's `describe` export says of it, once registered (see http/openapi.ts). */
  doc?: RouteDoc;
  /** The file's module, when the server is bundled (otherwise imported from `file` when registered). */
  module?: RouteModule;
}

interface RouteModule {
  default?: Handler;
  describe?: RouteDoc;
}

/** The `routes/` folder next to this module's folder: the source tree, the compiled package and an installed copy alike. */
export const ROUTES_DIR = join(CODE_ROOT, 'routes');

/**
 * Finds every route file, named as in nitro: `routes/api/tasks/[id]/children.get.ts` is `GET /api/tasks/:id/children`,
 * `index` names the folder itself. Sorted so that static segments come before parameters at every depth, since Hono
 * matches in registration order (`/api/sessions/spawn` before `/api/sessions/:id`).
 */
export async function scanRoutes(dir = ROUTES_DIR): Promise<RouteFile[]> {
  if (BUNDLED_ROUTES && dir === ROUTES_DIR) return BUNDLED_ROUTES.map((route) => ({ ...(route as RouteFile) }));
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const routes: RouteFile[] = [];
  for (const entry of entries) {
    const match = /^(.+)\.(get|post|put|patch|delete)\.(?:ts|js|mjs)$/.exec(entry.name);
    if (!entry.isFile() || !match || entry.name.endsWith('.d.ts')) continue;
    const parent = entry.parentPath ?? (entry as unknown as { path: string }).path;
    const file = join(parent, entry.name);
    const folders = relative(dir, parent).split(sep).filter(Boolean);
    const segments = [...folders, match[1]!].filter((s) => s !== 'index').map((s) => s.replace(/^\[(\w+)\]$/, ':$1'));
    routes.push({ method: match[2] as Method, path: `/${segments.join('/')}`, file });
  }
  return routes.sort((a, b) => comparePaths(a.path, b.path) || a.method.localeCompare(b.method));
}

function comparePaths(a: string, b: string): number {
  const [x, y] = [a.split('/'), b.split('/')];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [s, t] = [x[i]!, y[i]!];
    if (s === t) continue;
    const [sp, tp] = [s.startsWith(':'), t.startsWith(':')];
    if (sp !== tp) return sp ? 1 : -1;
    return s < t ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * Imports each route file (its default export is the handler) and registers it on `app`; its optional `describe`
 * export is kept as the route's `doc` for the API description.
 */
export async function registerRoutes<E extends object>(app: Hono<E & any>, routes: RouteFile[]): Promise<void> {
  const handlers = await Promise.all(
    routes.map(async (route) => {
      const mod = route.module ?? ((await import(pathToFileURL(route.file).href)) as RouteModule);
      if (typeof mod.default !== 'function') throw new Error(`Route file ${route.file} has no default export handler`);
      route.doc = mod.describe;
      return mod.default;
    }),
  );
  routes.forEach((route, i) => app.on(route.method.toUpperCase(), route.path, handlers[i]!));
}
