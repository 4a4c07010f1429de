// Serves the built dashboard: `GET /` and its files under `/ui/` (§19).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import { DIST_DIR } from '../package-root.js';

/** The built dashboard, `dist/ui`, whether this module runs from source or compiled. */
export const UI_DIR = join(DIST_DIR, 'ui');

/**
 * Serves the dashboard (contract §19): `GET /` is its page, its files live under `/ui/`. A file that is not there falls
 * through to the JSON 404 like any unknown path. Assets carry a content hash in their names, so they are cached for
 * good; the page itself is revalidated so a new build is picked up.
 */
export function serveDashboard<E extends object>(app: Hono<E & any>, dir = UI_DIR): void {
  if (!existsSync(join(dir, 'index.html'))) return;
  const page = serveStatic({ root: dir, path: 'index.html', onFound: (_path, c) => void c.header('Cache-Control', 'no-cache') });
  app.get('/', page);
  // Browsers ask for /favicon.ico on their own (the API docs page too); without it the first load logs a 404.
  app.get('/favicon.ico', serveStatic({ root: dir, path: 'favicon.svg' }));
  app.get('/ui', page);
  app.get(
    '/ui/*',
    serveStatic({
      root: dir,
      rewriteRequestPath: (path) => path.replace(/^\/ui/, ''),
      onFound: (path, c) => void c.header('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
    }),
  );
}
