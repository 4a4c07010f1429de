// Authentication (contract §1.1, §13.4, §15.6): which token a request carries, and so which caller it is.
import type { MiddlewareHandler } from 'hono';
import { sameSecret } from '../domain/tokens.js';
import { ApiError } from '../errors.js';
import type { Services } from '../services.js';
import type { AppEnv, Caller } from './context.js';

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
  if (method === 'POST' && path === '/api/projects') return true;
  return method !== 'GET' && method !== 'HEAD' && (path === '/api/templates' || path.startsWith('/api/templates/'));
}

/**
 * `/api/*` and every WebSocket upgrade need the admin token, a live session token or (to connect as its host only)
 * a runner token when `MAESTRO_TOKEN` is set; `/health` stays open. Without it the API is open, but only to
 * loopback `Host` names, and a presented token must still be valid. Sets the request's `caller`.
 */
export function authenticate(services: Services): MiddlewareHandler<AppEnv> {
  const { config, tokens, people } = services;
  // Constant time over SHA-256 digests: not even the admin token's length shows in how long a refusal takes.
  const isAdmin = (given: string) => config.token !== undefined && sameSecret(given, config.token);
  const unauthorized = (message: string) => new ApiError(401, 'UNAUTHORIZED', message);
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
    let caller: Caller = config.token ? { kind: 'admin' } : { kind: 'open' };
    if (upgrade || api) {
      const given =
        /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim() ?? (upgrade ? c.req.query('token') : undefined);
      const person = given === undefined || isAdmin(given) ? undefined : people.authenticate(given);
      if (person) {
        caller = { kind: 'user', id: person.id, name: person.name, role: person.role };
        await people.touch(person);
      } else if (given === undefined || !isAdmin(given)) {
        const sessionId = given === undefined ? undefined : tokens.sessionOf(given);
        const runnerHost = given === undefined ? undefined : tokens.hostOf(given);
        if (sessionId) {
          caller = { kind: 'session', sessionId };
          c.set('tokenSession', sessionId);
          const header = c.req.header('x-session-id')?.trim();
          if (header && header !== sessionId) {
            throw new ApiError(403, 'FORBIDDEN', 'X-Session-ID names another session than the session token', { sessionId: header });
          }
          if (outOfScope(c.req.method, c.req.path)) throw new ApiError(403, 'FORBIDDEN', 'A session token cannot do this');
        } else if (runnerHost) {
          caller = { kind: 'runner', host: runnerHost };
          if (c.req.path !== '/api/hosts/connect') throw new ApiError(403, 'FORBIDDEN', 'A runner token may only connect its runner');
        } else if (given !== undefined) {
          throw unauthorized(sessionId === null ? 'The session of this token has ended' : 'Missing or invalid bearer token');
        } else if (config.token) {
          throw unauthorized('Missing or invalid bearer token');
        }
      }
    }
    c.set('caller', caller);
    await next();
  };
}
