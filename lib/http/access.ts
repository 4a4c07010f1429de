// Who is calling and what each kind of caller may do (contract §15.6, issue 21): the one place that knows.
import type { MiddlewareHandler } from 'hono';
import type { Actor, Session } from '../domain/types.js';
import { ApiError } from '../errors.js';
import { isId } from '../ids.js';
import type { AppEnv, Caller, Ctx } from './context.js';
import { hasRole } from './roles.js';

export type { Caller };

export const callerOf = (c: Ctx): Caller => c.get('caller') ?? { kind: 'open' };

/** A person (not an agent or a runner): the admin token, a person's token (§23), or nobody on an open loopback server. */
export const isPerson = (caller: Caller) => caller.kind === 'admin' || caller.kind === 'open' || caller.kind === 'user';

/** Whether raw secrets (a spawned session's token in live spawn events) may reach this caller: not a viewer's. */
export const maySeeSecrets = (caller: Caller) => isPerson(caller) && (caller.kind !== 'user' || caller.role !== 'viewer');

/**
 * Ends a stream (WebSocket, SSE) opened with a person's token when that token is revoked (§23), or with a session
 * token when it stops working (§15.6: its session ended or was deleted); returns what to call once the stream
 * closes by itself. Other callers' streams are not tracked.
 */
export function closeOnRevoke(c: Ctx, close: () => void): () => void {
  const caller = callerOf(c);
  if (caller.kind === 'user') return c.var.services.people.track(caller.id, close);
  if (caller.kind === 'session') return c.var.services.tokens.track(caller.sessionId, close);
  return () => {};
}

const forbidden = (message: string, details?: Record<string, unknown>) => new ApiError(403, 'FORBIDDEN', message, details);

/** Refuses anyone but a person: deleting sessions, minting runner tokens. */
export function requirePerson(c: Ctx, action: string): void {
  if (!isPerson(callerOf(c))) throw forbidden(`Only a person (the admin token) may ${action}`);
}

/** The session of a session-token caller, or undefined for every other caller. */
export function tokenSession(c: Ctx): Session | undefined {
  const caller = callerOf(c);
  return caller.kind === 'session' ? c.var.services.db.get('sessions', caller.sessionId) : undefined;
}

/** The project a session-token caller is confined to; undefined for people. */
export const scopeOf = (c: Ctx): string | undefined => tokenSession(c)?.projectId;

/** Refuses a session token acting on a project other than its own session's (§15.6, issue 21 item 4). */
export function requireInScope(c: Ctx, projectId: string | undefined): void {
  const own = scopeOf(c);
  if (own !== undefined && projectId !== undefined && projectId !== own) {
    throw forbidden("A session token acts only within its own session's project", { projectId });
  }
}

/**
 * Refuses a session token naming, in a body, tasks or sessions of another project (§15.6, issue 21 item 4): linking
 * one (a spawn's or a session's `taskIds`, a task's `sessionIds` or `parentId`, a queue push) would change or reveal
 * that project's entity. Unknown IDs pass: the route 404s.
 */
export function requireNamedInScope(c: Ctx, kind: 'tasks' | 'sessions', ids: readonly (string | null | undefined)[] | undefined): void {
  const own = scopeOf(c);
  if (own === undefined || !ids) return;
  for (const id of ids) {
    const projectId = id ? c.var.services.db.get(kind, id)?.projectId : undefined;
    if (projectId !== undefined && projectId !== own) {
      const what = kind === 'tasks' ? 'Task' : 'Session';
      throw forbidden(`${what} ${id} is in another project: a session token acts only within its own session's project`, {
        [kind === 'tasks' ? 'taskId' : 'sessionId']: id,
        projectId,
      });
    }
  }
}

/** A list query narrowed to the caller's project: a session token sees only its own project, whatever it asks. */
export function scoped<Q extends { projectId?: string }>(c: Ctx, q: Q): Q {
  requireInScope(c, q.projectId);
  const own = scopeOf(c);
  return own === undefined ? q : { ...q, projectId: own };
}

/** A session named in a body (a claim's `sessionId`, a spawn's parent): with a session token it must be the caller. */
export function requireSelf(c: Ctx, sessionId: string | undefined, field: string): void {
  const caller = callerOf(c);
  if (caller.kind === 'session' && sessionId !== undefined && sessionId !== caller.sessionId) {
    throw forbidden(`${field} must be the calling session`, { [field]: sessionId });
  }
}

/**
 * A launch asked by a session token: only on the runner its own session runs on (docs/security.md, "Isolating
 * agents": one runner per trust level). An agent that could start an agent on another runner, and then type into
 * it as the session that spawned it, would run commands as that runner's user. A spawn with no runner launches
 * nothing; a session not run by a runner (its terminal opened by a person) has no runner to keep to.
 */
export function requireOwnRunner(c: Ctx, host: string | null | undefined): void {
  const own = tokenSession(c)?.host;
  if (own && host && host !== own) {
    throw forbidden(`A session token launches agents only on its own session's runner (${own}), not on ${host}`, { host });
  }
}

/** Whether a session-token caller reaches `session`: itself, or a session it spawned. People reach every session. */
export function reaches(caller: Caller, session: Session): boolean {
  if (caller.kind !== 'session') return isPerson(caller);
  return session.id === caller.sessionId || session.metadata?.spawnedBy === caller.sessionId;
}

/** The entity a path names, for the project check: `/api/<kind>/<id>` and `/api/sessions/<id>/tasks/<taskId>`. */
const PATH_IDS = /^\/api\/(projects|tasks|sessions|messages)\/([^/]+)(?:\/tasks\/([^/]+))?/;

/**
 * Confines a session token to its session's project for every route that names an entity in its path (bodies and
 * list queries are checked by their routes with `requireInScope` and `scoped`). An unknown ID passes: the route 404s.
 */
export const projectScope: MiddlewareHandler<AppEnv> = async (c, next) => {
  const own = scopeOf(c);
  const match = own === undefined ? null : PATH_IDS.exec(c.req.path);
  if (match) {
    const { db } = c.var.services;
    const [, kind, id, taskId] = match as unknown as [string, string, string, string | undefined];
    const projectOfId =
      kind === 'projects'
        ? db.get('projects', id)?.id
        : kind === 'tasks'
          ? db.get('tasks', id)?.projectId
          : kind === 'sessions'
            ? db.get('sessions', id)?.projectId
            : db.get('messages', id)?.projectId;
    requireInScope(c, projectOfId);
    if (taskId !== undefined) requireInScope(c, db.get('tasks', taskId)?.projectId);
  }
  await next();
};

/**
 * A change to a session by a session token (issue 21 item 2): its own session or one it spawned, whichever route
 * makes it (PATCH, events, timeline, task links). An unknown session passes: the route 404s.
 */
export function requireMayChangeSession(c: Ctx, sessionId: string): void {
  const caller = callerOf(c);
  if (caller.kind !== 'session') return;
  const session = c.var.services.db.get('sessions', sessionId);
  if (session && !reaches(caller, session)) {
    throw forbidden('A session may change only itself and the sessions it spawned', { sessionId });
  }
}

/**
 * `PATCH /api/sessions/:id` by a session token: as `requireMayChangeSession`, and never `env` (variables that run
 * code when the session's launch goes out).
 */
export function requireMayUpdateSession(c: Ctx, sessionId: string, fields: object): void {
  requireMayChangeSession(c, sessionId);
  if (callerOf(c).kind !== 'session') return;
  if ('env' in fields && (fields as { env?: unknown }).env !== undefined) throw forbidden('A session token cannot change env');
}

/**
 * `PUT /api/projects/:id` by a session token: never `workingDir` nor `workspace`. They decide where the project's
 * next agents start and what runs before them (`workspace.setup` is `sh -c` on whichever runner launches one, a
 * person's own machine included): an agent choosing them would run commands beyond its own runner, as `env` would.
 */
export function requireMayUpdateProject(c: Ctx, fields: { workingDir?: unknown; workspace?: unknown }): void {
  if (callerOf(c).kind !== 'session') return;
  const field = fields.workingDir !== undefined ? 'workingDir' : fields.workspace !== undefined ? 'workspace' : undefined;
  if (field) throw forbidden(`A session token cannot change a project's ${field}`, { field });
}

/** The host a runner-token caller may connect as; undefined for people (the admin token connects any runner). */
export function runnerHostOf(c: Ctx): string | undefined {
  const caller = callerOf(c);
  return caller.kind === 'runner' ? caller.host : undefined;
}

/**
 * Who a request acts as (§23): the admin, a person (token ID and name), a session (its token, or `X-Session-ID`
 * sent by a person's client on the session's behalf) or a runner (its host name). An `X-Session-ID` that names no
 * session is no one's identity: the change is the person's who sent it, never a session that does not exist. A
 * viewer's is not taken either (`callerSession`): a viewer only reads, as itself.
 */
export function actorOf(c: Ctx): Actor {
  const caller = callerOf(c);
  if (caller.kind === 'runner') return { kind: 'runner', name: caller.host };
  const header = c.req.header('x-session-id')?.trim();
  const sessionId = caller.kind === 'session' ? caller.sessionId : header && isId(header) && hasRole(caller, 'member') ? header : undefined;
  const session = sessionId === undefined ? undefined : c.var.services.db.get('sessions', sessionId);
  if (session) return { kind: 'session', id: session.id, name: session.name };
  if (caller.kind === 'user') return { kind: 'user', id: caller.id, name: caller.name };
  return { kind: 'admin' };
}
