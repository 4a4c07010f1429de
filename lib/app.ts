import { timingSafeEqual } from 'node:crypto';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import type { UpgradeWebSocket } from 'hono/ws';
import { serveDashboard } from './dashboard.js';
import { ApiError } from './errors.js';
import { eventSocket } from './event-stream.js';
import { isPrepared } from './reads.js';
import { registerRoutes, type RouteFile, scanRoutes } from './routes.js';
import type { Services } from './services.js';

export type AppEnv = {
  Variables: {
    services: Services;
    /** The session whose session token authenticated the request (contract §15.6); unset for the admin or no token. */
    tokenSession?: string;
    /** Every registered route, with its description (for `/api/openapi.json`). */
    routes: RouteFile[];
  };
};
/** The context a route handler receives. */
export type Ctx = Context<AppEnv>;

export const MAX_BODY_BYTES = 1024 * 1024;

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

  if (config.token) app.use('*', bearerToken(config.token));

  if (upgradeWebSocket) {
    app.use('*', upgradeWebSocket((c) => eventSocket(c as Ctx, hub, log)));
  }

  // GET and HEAD carry no body: bodyLimit would still turn node-server's lazy request into a full web Request.
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => {
      // The rest of the body is never read, so the connection cannot carry another request: say so, or a
      // keep-alive client sends its next request into a socket the server drops.
      c.header('Connection', 'close');
      throw new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Request body is larger than 1 MiB', { limit: MAX_BODY_BYTES });
    },
  });
  app.use('*', (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limit(c, next)));
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

/** `/api/*` and every WebSocket upgrade need the token when one is set; `/health` stays open (§1.1). */
function bearerToken(token: string): MiddlewareHandler {
  const expected = Buffer.from(token);
  const matches = (given: string | undefined) =>
    given !== undefined && Buffer.byteLength(given) === expected.length && timingSafeEqual(Buffer.from(given), expected);
  return async (c, next) => {
    const upgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket';
    // `/api/docs` is a page with no data: it asks for the token to fetch the description.
    const api = (c.req.path === '/api' || c.req.path.startsWith('/api/')) && c.req.path !== '/api/docs';
    if (upgrade || api) {
      const header = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim();
      if (!matches(header) && !(upgrade && matches(c.req.query('token')))) {
        throw new ApiError(401, 'UNAUTHORIZED', 'Missing or invalid bearer token');
      }
    }
    await next();
  };
}

export type { RouteFile };
