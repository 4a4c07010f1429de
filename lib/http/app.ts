// The hono app: security checks, body limit, errors, the event and terminal sockets, and every file under `routes/`.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import type { UpgradeWebSocket, WSEvents } from 'hono/ws';
import { actAs } from '../domain/actor.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import { actorOf, callerOf, closeOnRevoke, projectScope, runnerHostOf } from './access.js';
import { authenticate } from './auth.js';
import { bodyLimit } from './body-limit.js';
import { callerSession } from './caller.js';
import type { AppEnv, Ctx } from './context.js';
import { serveDashboard } from './dashboard.js';
import { eventSocket } from './event-stream.js';
import { isPrepared, tagged } from './response-cache.js';
import { hasRole, requireRole } from './roles.js';
import { type RouteFile, registerRoutes, scanRoutes } from './route-table.js';

export type { AppEnv, Ctx };

/** A live terminal socket that a revoked token's viewer loses at once (§23). */
function terminalSocket(c: Ctx, events: WSEvents): WSEvents {
  let untrack = () => {};
  return {
    ...events,
    onOpen: (event, ws) => {
      untrack = closeOnRevoke(c, () => ws.close(1008, 'Token revoked'));
      events.onOpen?.(event, ws);
    },
    onClose: (event, ws) => {
      untrack();
      events.onClose?.(event, ws);
    },
  };
}

/**
 * Whether a browser's `Origin` is the server's own: the dashboard (§19) served at `https://maestro.example` or
 * `http://<machine>:8080` sends its own origin on every write and WebSocket, and is no other site. Only the
 * authority is compared, as a TLS proxy in front speaks plain HTTP to the server. A page of another site reaching
 * the server under its own name (DNS rebinding) matches too, but then the `Host` check or the token refuses it.
 */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || !/^https?:\/\/[^/]+$/.test(origin)) return false;
  try {
    return new URL(origin).host === new URL(`http://${host.trim()}`).host;
  } catch {
    return false;
  }
}

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

  const originAllowed = (origin: string, host: string | undefined) =>
    config.corsOrigins.includes('*') ||
    config.corsOrigins.includes(origin) ||
    /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(origin) ||
    sameOrigin(origin, host);

  // A browser on another site must not drive the API, even with simple requests that skip preflight (§1.1).
  app.use('*', async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && !originAllowed(origin, c.req.header('host'))) {
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

  app.use('*', async (c, next) => {
    c.set('services', services);
    c.set('routes', routes);
    await next();
  });
  // Several instances on one database (§22.2): a request sees every change answered before it arrived, on any of them
  // (a token created or revoked, a project made a moment ago through another instance behind a round-robin proxy).
  const { engine } = services.db;
  if (engine.sync) {
    const sync = engine.sync.bind(engine);
    app.use('/api/*', async (_c, next) => {
      await sync();
      await next();
    });
  }
  app.use('*', authenticate(services));
  app.use('*', projectScope);
  // Every change a request makes is recorded as done by its caller (§23).
  app.use('*', (c, next) => actAs(actorOf(c), next));

  if (upgradeWebSocket) {
    // Runner and live-terminal sockets first (§15.2, §15.4): the event socket below takes every other upgrade.
    // A runner connects with its own runner token or an admin's (§23): a member or viewer token is refused.
    app.get('/api/hosts/connect', async (c, next) => {
      const caller = callerOf(c);
      if (caller.kind !== 'runner' && !hasRole(caller, 'admin'))
        throw new ApiError(403, 'FORBIDDEN', 'Only an admin or runner token connects a runner');
      await next();
    });
    app.get(
      '/api/hosts/connect',
      upgradeWebSocket((c) => services.hosts.runnerSocket(runnerHostOf(c as Ctx))),
    );
    app.get(
      '/api/sessions/:id/terminal',
      upgradeWebSocket((c) =>
        // hono builds the handlers for every request: only an upgrade is checked here, a GET goes on to its route.
        c.req.header('upgrade')?.toLowerCase() === 'websocket'
          ? terminalSocket(
              c as Ctx,
              services.hosts.viewerSocket(c.req.param('id')!, callerSession(c as Ctx), !hasRole(callerOf(c as Ctx), 'member')),
            )
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
  // Answers from the read cache carry their ETag and do their own 304. Other JSON answers to a GET are tagged as
  // they are built (a synchronous SHA-1 of the JSON): hono's etag, which clones the answer and hashes its stream
  // asynchronously, cost about a millisecond each, and is left for the few answers that are not JSON.
  const conditional = etag();
  app.use('/api/*', async (c, next) => {
    if (c.req.method === 'GET') {
      const json = c.json;
      c.json = ((value: unknown, ...rest: unknown[]) =>
        rest.length ? (json as (...args: unknown[]) => Response)(value, ...rest) : tagged(c, value)) as typeof c.json;
    }
    await next();
    // The event stream never ends, so it cannot be hashed.
    if (c.req.method === 'GET' && c.req.path !== '/api/events/stream' && !isPrepared(c.res)) await conditional(c, async () => {});
  });
  // Each route's role (lib/http/roles.ts) is checked before its handler runs.
  for (const route of routes) app.on(route.method.toUpperCase(), route.path, requireRole(route));
  await registerRoutes(app, routes);
  serveDashboard(app);
  return { app, routes };
}

export type { RouteFile };
