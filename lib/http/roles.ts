// Which role may call which route (contract §23): one table, next to the route table, the single place that says so.
import type { MiddlewareHandler } from 'hono';
import type { AccessRole } from '../domain/types.js';
import { ApiError } from '../errors.js';
import type { AppEnv, Caller } from './context.js';
import type { RouteFile } from './route-table.js';

/**
 * The least role each route needs, keyed `METHOD path` as in the route table. `viewer` reads, `member` does
 * everything but manage tokens, delete hosts and change templates, `admin` everything. A route missing here is
 * refused to everyone at startup (test/roles.test.ts checks that every route has its line). Sockets, which are not
 * routes: the event WebSocket and the live terminal are `viewer` (a viewer's keys are dropped), a runner's
 * connection `/api/hosts/connect` is `admin` or the host's runner token.
 */
export const ROUTE_ROLES: Readonly<Record<string, AccessRole>> = {
  'GET /health': 'viewer',
  'GET /ws-status': 'viewer',
  'GET /api/asyncapi.json': 'viewer',
  'GET /api/docs': 'viewer',
  'GET /api/openapi.json': 'viewer',
  'GET /api/events': 'viewer',
  'GET /api/events/stream': 'viewer',
  'GET /api/me': 'viewer',

  'GET /api/tokens': 'admin',
  'POST /api/tokens': 'admin',
  'DELETE /api/tokens/:id': 'admin',

  'GET /api/hosts': 'viewer',
  'GET /api/hosts/:name': 'viewer',
  'DELETE /api/hosts/:name': 'admin',
  'POST /api/hosts/:name/token': 'admin',

  'GET /api/projects': 'viewer',
  'POST /api/projects': 'member',
  'GET /api/projects/:id': 'viewer',
  'PUT /api/projects/:id': 'member',
  'DELETE /api/projects/:id': 'member',

  'GET /api/tasks': 'viewer',
  'POST /api/tasks': 'member',
  'GET /api/tasks/next': 'viewer',
  'POST /api/tasks/claim-next': 'member',
  'GET /api/tasks/:id': 'viewer',
  'PATCH /api/tasks/:id': 'member',
  'DELETE /api/tasks/:id': 'member',
  'GET /api/tasks/:id/children': 'viewer',
  'POST /api/tasks/:id/claim': 'member',
  'DELETE /api/tasks/:id/claim': 'member',
  'POST /api/tasks/:id/timeline': 'member',

  'GET /api/sessions': 'viewer',
  'POST /api/sessions': 'member',
  'POST /api/sessions/spawn': 'member',
  'GET /api/sessions/:id': 'viewer',
  'PATCH /api/sessions/:id': 'member',
  'DELETE /api/sessions/:id': 'member',
  'POST /api/sessions/:id/attention': 'member',
  'GET /api/sessions/:id/diff': 'viewer',
  'POST /api/sessions/:id/events': 'member',
  'POST /api/sessions/:id/input': 'member',
  'POST /api/sessions/:id/merge': 'member',
  'GET /api/sessions/:id/messages': 'viewer',
  'POST /api/sessions/:id/messages': 'member',
  'GET /api/sessions/:id/queue': 'viewer',
  'GET /api/sessions/:id/queue/items': 'viewer',
  'GET /api/sessions/:id/queue/top': 'viewer',
  'POST /api/sessions/:id/queue/start': 'member',
  'POST /api/sessions/:id/queue/complete': 'member',
  'POST /api/sessions/:id/queue/fail': 'member',
  'POST /api/sessions/:id/queue/skip': 'member',
  'POST /api/sessions/:id/queue/push': 'member',
  'POST /api/sessions/:id/stop': 'member',
  'POST /api/sessions/:id/tasks/:taskId': 'member',
  'DELETE /api/sessions/:id/tasks/:taskId': 'member',
  'GET /api/sessions/:id/terminal': 'viewer',
  'GET /api/sessions/:id/timeline': 'viewer',
  'POST /api/sessions/:id/timeline': 'member',
  'DELETE /api/sessions/:id/workspace': 'member',

  'GET /api/messages/:id': 'viewer',
  'PATCH /api/messages/:id': 'member',
  'DELETE /api/messages/:id': 'member',

  'GET /api/skills': 'viewer',
  'GET /api/skills/role/:role': 'viewer',
  'GET /api/skills/:id': 'viewer',
  'POST /api/skills/:id/reload': 'member',

  'GET /api/templates': 'viewer',
  'POST /api/templates': 'admin',
  'GET /api/templates/default/:role': 'viewer',
  'GET /api/templates/role/:role': 'viewer',
  'GET /api/templates/:id': 'viewer',
  'PUT /api/templates/:id': 'admin',
  'DELETE /api/templates/:id': 'admin',
  'POST /api/templates/:id/reset': 'admin',
};

const RANK: Record<AccessRole, number> = { viewer: 0, member: 1, admin: 2 };

/** The role a caller acts with: the admin token (or an open loopback server) is `admin`; a session token works as a `member`. */
export function roleOf(caller: Caller): AccessRole | undefined {
  switch (caller.kind) {
    case 'admin':
    case 'open':
      return 'admin';
    case 'user':
      return caller.role;
    case 'session':
      return 'member';
    case 'runner':
      return undefined;
  }
}

export const hasRole = (caller: Caller, needed: AccessRole) => {
  const role = roleOf(caller);
  return role !== undefined && RANK[role] >= RANK[needed];
};

export const routeKey = (route: Pick<RouteFile, 'method' | 'path'>) => `${route.method.toUpperCase()} ${route.path}`;

/** The guard of one route: 403 `FORBIDDEN` for a caller whose role is below the route's (none listed: nobody). */
export function requireRole(route: RouteFile): MiddlewareHandler<AppEnv> {
  const needed = ROUTE_ROLES[routeKey(route)];
  return async (c, next) => {
    const caller = c.get('caller') ?? { kind: 'open' };
    if (needed === undefined || !hasRole(caller, needed)) {
      const role = roleOf(caller) ?? caller.kind;
      const needs = needed ? `: it needs ${needed}` : '';
      throw new ApiError(403, 'FORBIDDEN', `Your role (${role}) may not ${route.method.toUpperCase()} ${route.path}${needs}`, {
        role,
        needs: needed ?? 'none',
      });
    }
    await next();
  };
}
