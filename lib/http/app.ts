import { timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import type { UpgradeWebSocket } from 'hono/ws';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import { bodyLimit } from './body-limit.js';
import { callerSession } from './caller.js';
import type { AppEnv, Ctx } from './context.js';
import { serveDashboard } from './dashboard.js';
import { eventSocket } from './event-stream.js';
import { isPrepared } from './response-cache.js';
import { type RouteFile, registerRoutes, scanRoutes } from './route-table.js';

export type { AppEnv, Ctx };

/** Builds the Hono app: security, limits, errors, the WebSocket upgrade, and every file under `routes/`. */
export async function createApp(services: Services, upgradeWebSocket?: UpgradeWebSocket) {
  const { config, log, hub } = services;
  const app = new Hono<AppEnv>();
  const routes = await scanRoutes();

  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json(error.toBody(), error.status);
    log.error(`${c.req.method} ${c.req.path} failed`, error);
    return c.json({ error: true, code: 'INTERNAL_ERROR', message: 'Internal server error' }, 500);
  });
  app.notFound((c) => c.json({ error: true, code: 'NOT_FOUND', message: 'Route not found' }, 404));

  const originAllowed = (origin: string) =>
    config.corsOrigins.includes('*') ||
    config.corsOrigins.includes(origin) ||
    /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(origin);

  // A browser on another site must not drive the API, even with simple requests that skip preflight (§1.1).
  app.use('*', async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && !originAllowed(origin)) {
      throw new ApiError(403, 'FORBIDDEN', `Origin ${origin} is not allowed`, { origin });
    }
    await next();
  });
  const preflight = cors({ origin: (origin) => origin, exposeHeaders: ['ETag', 'X-Next-Cursor'], maxAge: 600 });
  // The same headers as hono's cors, but set before the handler runs: hono's middleware touches `c.res` before and
  // after it, which turns node-server's ready-to-write response into a web stream on every request.
  app.use('*', async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    const origin = c.req.header('origin');
    if (origin) c.header('Access-Control-Allow-Origin', origin);
    c.header('Access-Control-Expose-Headers', 'ETag,X-Next-Cursor');
    c.header('Vary', 'Origin');
    await next();
  });

  app.use('*', authenticate(services));

  if (upgradeWebSocket) {
    // Runner and live-terminal sockets first (§15.2, §15.4): the event socket below takes every other upgrade.
    app.get(
      '/api/hosts/connect',
      upgradeWebSocket(() => services.hosts.runnerSocket()),
    );
    app.get(
      '/api/sessions/:id/terminal',
      upgradeWebSocket((c) =>
        // hono builds the handlers for every request: only an upgrade is checked here, a GET goes on to its route.
        c.req.header('upgrade')?.toLowerCase() === 'websocket'
          ? services.hosts.viewerSocket(c.req.param('id')!, callerSession(c as Ctx))
          : {},
      ),
    );
    app.use(
      '*',
      upgradeWebSocket((c) => eventSocket(c as Ctx, hub, log)),
    );
  }

  // GET and HEAD carry no body: bodyLimit would still turn node-server's lazy request into a full web Request.
  app.use('*', (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : bodyLimit(c, next)));
  // Answers from the read cache carry their ETag and do their own 304; anything else is hashed on the way out.
  const conditional = etag();
  app.use('/api/*', async (c, next) => {
    await next();
    // The event stream never ends, so it cannot be hashed.
    if (c.req.method === 'GET' && c.req.path !== '/api/events/stream' && !isPrepared(c.res)) await conditional(c, async () => {});
  });
  app.use('*', async (c, next) => {
    c.set('services', services);
    c.set('routes', routes);
    await next();
  });

  await registerRoutes(app, routes);
  serveDashboard(app);
  return { app, routes };
}

/** The `Host` names a tokenless server answers (§13.4): loopback names, any port, and `MAESTRO_ALLOWED_HOSTS`. */
function hostAllowed(header: string, allowed: string[]): boolean {
  const name = header.trim().toLowerCase().replace(/:\d+$/, '');
  return (
    name === 'localhost' ||
    name === '127.0.0.1' ||
    name === '[::1]' ||
    allowed.includes(name) ||
    allowed.includes(header.trim().toLowerCase())
  );
}

/** What a session token may not do, whatever the route (§15.6). */
function outOfScope(method: string, path: string): boolean {
  if (path === '/api/hosts/connect') return true;
  if (method === 'DELETE' && (path.startsWith('/api/projects/') || path.startsWith('/api/hosts/'))) return true;
  return method !== 'GET' && method !== 'HEAD' && (path === '/api/templates' || path.startsWith('/api/templates/'));
}

/**
 * Authentication (§1.1, §13.4, §15.6). `/api/*` and every WebSocket upgrade need the admin token or a live session
 * token when `MAESTRO_TOKEN` is set; `/health` stays open. Without it the API is open, but only to loopback `Host`
 * names, and a presented session token must still be valid. A session token identifies its session.
 */
function authenticate(services: Services): MiddlewareHandler<AppEnv> {
  const { config, tokens } = services;
  const expected = config.token ? Buffer.from(config.token) : undefined;
  const isAdmin = (given: string) =>
    expected !== undefined && Buffer.byteLength(given) === expected.length && timingSafeEqual(Buffer.from(given), expected);
  return async (c, next) => {
    if (!config.token) {
      const host = c.req.header('host');
      if (host !== undefined && !hostAllowed(host, config.allowedHosts)) {
        throw new ApiError(403, 'FORBIDDEN', `Host ${host} is not allowed (set MAESTRO_ALLOWED_HOSTS or MAESTRO_TOKEN)`, { host });
      }
    }
    const upgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket';
    // `/api/docs` is a page with no data: it asks for the token to fetch the description.
    const api = (c.req.path === '/api' || c.req.path.startsWith('/api/')) && c.req.path !== '/api/docs';
    if (upgrade || api) {
      const given =
        /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim() ?? (upgrade ? c.req.query('token') : undefined);
      if (given === undefined || !isAdmin(given)) {
        const sessionId = given === undefined ? undefined : tokens.sessionOf(given);
        if (sessionId) {
          c.set('tokenSession', sessionId);
          const header = c.req.header('x-session-id')?.trim();
          if (header && header !== sessionId) {
            throw new ApiError(403, 'FORBIDDEN', 'X-Session-ID names another session than the session token', { sessionId: header });
          }
          if (outOfScope(c.req.method, c.req.path)) throw new ApiError(403, 'FORBIDDEN', 'A session token cannot do this');
        } else if (given !== undefined || config.token) {
          throw new ApiError(
            401,
            'UNAUTHORIZED',
            sessionId === null ? 'The session of this token has ended' : 'Missing or invalid bearer token',
          );
        }
      }
    }
    await next();
  };
}

export type { RouteFile };
