import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectError } from './assertions.js';
import { type Answer, appClient, inProcess, tempDir } from './helpers.js';

/**
 * Every route against every kind of caller (contract §1.1, §15.6, §16, §23): no token, a bad token, a revoked one,
 * the admin token, a person's admin, member and viewer tokens, a session token (on its own session, a sibling, a
 * session it spawned and one of another project) and a runner token. The decisions below are written from the
 * contract, independently of lib/http/roles.ts; the list of routes comes from /api/openapi.json, so a route added
 * later without a line here fails the first test.
 */

type Target = 'own' | 'sibling' | 'spawned' | 'foreign';
type Verdict = 'allow' | 403;
type Role = 'open' | 'viewer' | 'member' | 'admin';

interface World {
  project: string;
  foreignProject: string;
  task: string;
  foreignTask: string;
  /** The session token's session (`own`), a session it spawned, a sibling of its project, one of another project. */
  sessions: Record<Target, string>;
  ownToken: string;
  template: string;
  /** Fresh entities, for the routes whose allowed call consumes what it acts on. */
  fresh: {
    project(): Promise<string>;
    task(projectId?: string): Promise<string>;
    session(projectId?: string, spawnedBy?: string): Promise<string>;
    /** A task claimed by the session `holder`. */
    claimed(holder: string): Promise<string>;
    /** A message between two sessions; its ID. */
    message(from: string | null, to: string): Promise<string>;
    template(): Promise<string>;
    token(): Promise<string>;
    /** A session spawned by the session-token's session, with its own token (to stop it as itself). */
    spawnedWithToken(): Promise<{ id: string; token: string }>;
  };
}

interface Request {
  path: string;
  body?: unknown;
  /** Another token for this call (a session that stops itself must not be the one every other case uses). */
  token?: string;
}

interface RouteCase {
  /** The least role the contract gives the route (§23): `open` needs no token at all. */
  role: Role;
  /**
   * A session token, by target (§15.6): the decision for each target this route distinguishes; a target left out is
   * not tried. Default: `{ own: 'allow', foreign: 403 }` for routes that name an entity of a project, `{ own: 'allow' }`
   * for the rest; `person` routes refuse a session token everywhere.
   */
  session?: Partial<Record<Target, Verdict>> | 'person';
  /** The statuses an allowed call may answer (default 2xx): a business rule the fixture meets, never 401 or 403. */
  ok?: number[];
  /** The call; `person` is false for a session token (whose own session is not to be consumed by people's calls). */
  request(w: World, t: Target, person: boolean): Request | Promise<Request>;
}

const ADMIN = 'role-matrix-admin-token';
const REACH = { own: 'allow', spawned: 'allow', sibling: 403, foreign: 403 } as const; // itself and what it spawned
const SELF = { own: 'allow', spawned: 403, sibling: 403, foreign: 403 } as const; // itself only
const PROJECT = { own: 'allow', spawned: 'allow', sibling: 'allow', foreign: 403 } as const; // anything of its project
const IN_PROJECT = { own: 'allow', foreign: 403 } as const;

const s = (w: World, t: Target) => w.sessions[t];
const projectOf = (w: World, t: Target) => (t === 'foreign' ? w.foreignProject : w.project);
const taskOf = (w: World, t: Target) => (t === 'foreign' ? w.foreignTask : w.task);

/** One line per route: who may call it. */
const ROUTES: Record<string, RouteCase> = {
  'GET /health': { role: 'open', request: () => ({ path: '/health' }) },
  'GET /ws-status': { role: 'open', request: () => ({ path: '/ws-status' }) },
  'GET /api/docs': { role: 'open', request: () => ({ path: '/api/docs' }) },
  'GET /api/openapi.json': { role: 'viewer', request: () => ({ path: '/api/openapi.json' }) },
  'GET /api/asyncapi.json': { role: 'viewer', request: () => ({ path: '/api/asyncapi.json' }) },
  'GET /api/me': { role: 'viewer', request: () => ({ path: '/api/me' }) },
  'GET /api/events': { role: 'viewer', session: IN_PROJECT, request: (w, t) => ({ path: `/api/events?projectId=${projectOf(w, t)}` }) },
  'GET /api/events/stream': {
    role: 'viewer',
    session: IN_PROJECT,
    request: (w, t) => ({ path: `/api/events/stream?projectId=${projectOf(w, t)}` }),
  },

  'GET /api/tokens': { role: 'admin', request: () => ({ path: '/api/tokens' }) },
  'POST /api/tokens': { role: 'admin', request: () => ({ path: '/api/tokens', body: { name: 'Nina', role: 'viewer' } }) },
  'DELETE /api/tokens/:id': { role: 'admin', request: async (w) => ({ path: `/api/tokens/${await w.fresh.token()}` }) },

  'GET /api/hosts': { role: 'viewer', request: () => ({ path: '/api/hosts' }) },
  'GET /api/hosts/:name': { role: 'viewer', ok: [404], request: () => ({ path: '/api/hosts/nowhere' }) },
  'DELETE /api/hosts/:name': { role: 'admin', session: 'person', ok: [404], request: () => ({ path: '/api/hosts/nowhere' }) },
  'POST /api/hosts/:name/token': { role: 'admin', session: 'person', request: () => ({ path: '/api/hosts/builder/token' }) },

  'GET /api/projects': { role: 'viewer', request: () => ({ path: '/api/projects' }) },
  'POST /api/projects': { role: 'member', session: 'person', request: () => ({ path: '/api/projects', body: { name: 'New' } }) },
  'GET /api/projects/:id': { role: 'viewer', session: IN_PROJECT, request: (w, t) => ({ path: `/api/projects/${projectOf(w, t)}` }) },
  'PUT /api/projects/:id': {
    role: 'member',
    session: IN_PROJECT,
    request: (w, t) => ({ path: `/api/projects/${projectOf(w, t)}`, body: { description: 'changed' } }),
  },
  'DELETE /api/projects/:id': {
    role: 'member',
    session: 'person',
    request: async (w) => ({ path: `/api/projects/${await w.fresh.project()}` }),
  },

  'GET /api/tasks': { role: 'viewer', session: IN_PROJECT, request: (w, t) => ({ path: `/api/tasks?projectId=${projectOf(w, t)}` }) },
  'POST /api/tasks': {
    role: 'member',
    session: IN_PROJECT,
    request: (w, t) => ({ path: '/api/tasks', body: { projectId: projectOf(w, t), title: 'More' } }),
  },
  'GET /api/tasks/next': {
    role: 'viewer',
    session: IN_PROJECT,
    request: (w, t) => ({ path: `/api/tasks/next?projectId=${projectOf(w, t)}` }),
  },
  'POST /api/tasks/claim-next': {
    role: 'member',
    // The claiming session must be the caller itself (§15.6).
    session: SELF,
    request: (w, t) => ({ path: '/api/tasks/claim-next', body: { projectId: projectOf(w, t), sessionId: s(w, t) } }),
  },
  'GET /api/tasks/:id': { role: 'viewer', session: IN_PROJECT, request: (w, t) => ({ path: `/api/tasks/${taskOf(w, t)}` }) },
  'PATCH /api/tasks/:id': {
    role: 'member',
    session: IN_PROJECT,
    request: (w, t) => ({ path: `/api/tasks/${taskOf(w, t)}`, body: { description: 'changed' } }),
  },
  'DELETE /api/tasks/:id': {
    role: 'member',
    session: IN_PROJECT,
    request: async (w, t) => ({ path: `/api/tasks/${await w.fresh.task(projectOf(w, t))}` }),
  },
  'GET /api/tasks/:id/children': {
    role: 'viewer',
    session: IN_PROJECT,
    request: (w, t) => ({ path: `/api/tasks/${taskOf(w, t)}/children` }),
  },
  'POST /api/tasks/:id/claim': {
    role: 'member',
    session: SELF,
    request: async (w, t) => ({ path: `/api/tasks/${await w.fresh.task(projectOf(w, t))}/claim`, body: { sessionId: s(w, t) } }),
  },
  'DELETE /api/tasks/:id/claim': {
    role: 'member',
    // The holder or a person releases a claim (§18.2).
    session: SELF,
    request: async (w, t) => ({ path: `/api/tasks/${await w.fresh.claimed(s(w, t))}/claim` }),
  },
  'POST /api/tasks/:id/timeline': {
    role: 'member',
    session: SELF,
    request: (w, t) => ({ path: `/api/tasks/${taskOf(w, t)}/timeline`, body: { sessionId: s(w, t), message: 'half way' } }),
  },

  'GET /api/sessions': { role: 'viewer', session: IN_PROJECT, request: (w, t) => ({ path: `/api/sessions?projectId=${projectOf(w, t)}` }) },
  'POST /api/sessions': {
    role: 'member',
    session: IN_PROJECT,
    request: (w, t) => ({ path: '/api/sessions', body: { projectId: projectOf(w, t), taskIds: [] } }),
  },
  'POST /api/sessions/spawn': {
    role: 'member',
    session: IN_PROJECT,
    request: (w, t) => ({ path: '/api/sessions/spawn', body: { projectId: projectOf(w, t), taskIds: [taskOf(w, t)] } }),
  },
  'GET /api/sessions/:id': { role: 'viewer', session: PROJECT, request: (w, t) => ({ path: `/api/sessions/${s(w, t)}` }) },
  'PATCH /api/sessions/:id': {
    role: 'member',
    session: REACH,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}`, body: { timeline: [{ type: 'progress', message: 'patched' }] } }),
  },
  'DELETE /api/sessions/:id': {
    role: 'member',
    session: { own: 403, spawned: 403, sibling: 403, foreign: 403 },
    request: async (w, t, person) => ({ path: `/api/sessions/${person ? await w.fresh.session() : s(w, t)}` }),
  },
  'POST /api/sessions/:id/attention': {
    role: 'member',
    // A hook is the agent's own report (§21).
    session: SELF,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/attention`, body: { event: 'Stop' } }),
  },
  'GET /api/sessions/:id/diff': {
    role: 'viewer',
    session: PROJECT,
    ok: [409],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/diff` }),
  },
  'POST /api/sessions/:id/events': {
    role: 'member',
    session: REACH,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/events`, body: { type: 'note', data: {} } }),
  },
  'POST /api/sessions/:id/input': {
    role: 'member',
    session: REACH,
    ok: [409],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/input`, body: { text: 'hello' } }),
  },
  'POST /api/sessions/:id/merge': {
    role: 'member',
    session: REACH,
    ok: [409],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/merge`, body: {} }),
  },
  'GET /api/sessions/:id/messages': {
    role: 'viewer',
    session: PROJECT,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/messages` }),
  },
  'POST /api/sessions/:id/messages': {
    role: 'member',
    // Any session of its project, within the message rules (§16.2); to itself is a 400 of those rules.
    session: PROJECT,
    ok: [400],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/messages`, body: { message: 'hi' } }),
  },
  'GET /api/sessions/:id/queue': { role: 'viewer', session: PROJECT, request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue` }) },
  'GET /api/sessions/:id/queue/items': {
    role: 'viewer',
    session: PROJECT,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue/items` }),
  },
  'GET /api/sessions/:id/queue/top': {
    role: 'viewer',
    session: PROJECT,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue/top` }),
  },
  'POST /api/sessions/:id/queue/start': {
    role: 'member',
    session: REACH,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue/start` }),
  },
  'POST /api/sessions/:id/queue/complete': {
    role: 'member',
    session: REACH,
    ok: [400],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue/complete` }),
  },
  'POST /api/sessions/:id/queue/fail': {
    role: 'member',
    session: REACH,
    ok: [400],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue/fail`, body: {} }),
  },
  'POST /api/sessions/:id/queue/skip': {
    role: 'member',
    session: REACH,
    ok: [400],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue/skip` }),
  },
  'POST /api/sessions/:id/queue/push': {
    role: 'member',
    session: REACH,
    request: async (w, t) => ({ path: `/api/sessions/${s(w, t)}/queue/push`, body: { taskId: await w.fresh.task(projectOf(w, t)) } }),
  },
  'POST /api/sessions/:id/stop': {
    role: 'member',
    session: REACH,
    request: async (w, t, person) => {
      // Stopping ends a session (and its token): each allowed stop gets a session of its own.
      if (person) return { path: `/api/sessions/${await w.fresh.session()}/stop`, body: {} };
      if (t === 'own') {
        const own = await w.fresh.spawnedWithToken();
        return { path: `/api/sessions/${own.id}/stop`, body: {}, token: own.token };
      }
      const id = t === 'spawned' ? await w.fresh.session(w.project, w.sessions.own) : s(w, t);
      return { path: `/api/sessions/${id}/stop`, body: {} };
    },
  },
  'POST /api/sessions/:id/tasks/:taskId': {
    role: 'member',
    session: REACH,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/tasks/${taskOf(w, t)}` }),
  },
  'DELETE /api/sessions/:id/tasks/:taskId': {
    role: 'member',
    session: REACH,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/tasks/${taskOf(w, t)}` }),
  },
  'GET /api/sessions/:id/terminal': {
    role: 'viewer',
    // Viewing an agent's terminal is controlling-class for a session token (§15.6): itself and what it spawned.
    session: REACH,
    ok: [409],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/terminal` }),
  },
  'GET /api/sessions/:id/timeline': {
    role: 'viewer',
    session: PROJECT,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/timeline` }),
  },
  'POST /api/sessions/:id/timeline': {
    role: 'member',
    session: REACH,
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/timeline`, body: { type: 'progress', message: 'on it' } }),
  },
  'DELETE /api/sessions/:id/workspace': {
    role: 'member',
    session: REACH,
    ok: [409],
    request: (w, t) => ({ path: `/api/sessions/${s(w, t)}/workspace` }),
  },

  'GET /api/messages/:id': {
    role: 'viewer',
    session: PROJECT,
    request: async (w, t) => ({ path: `/api/messages/${await w.fresh.message(null, s(w, t))}` }),
  },
  'PATCH /api/messages/:id': {
    role: 'member',
    // Its receiver only (§16.3): a message to itself or to one it spawned is not the same thing.
    session: SELF,
    request: async (w, t) => ({ path: `/api/messages/${await w.fresh.message(null, s(w, t))}`, body: { status: 'read' } }),
  },
  'DELETE /api/messages/:id': {
    role: 'member',
    // Its receiver or its sender (§16.3).
    session: SELF,
    request: async (w, t) => ({ path: `/api/messages/${await w.fresh.message(null, s(w, t))}` }),
  },

  'GET /api/skills': { role: 'viewer', request: () => ({ path: '/api/skills' }) },
  'GET /api/skills/role/:role': { role: 'viewer', request: () => ({ path: '/api/skills/role/worker' }) },
  'GET /api/skills/:id': { role: 'viewer', request: () => ({ path: '/api/skills/matrix-skill' }) },
  'POST /api/skills/:id/reload': { role: 'member', request: () => ({ path: '/api/skills/matrix-skill/reload' }) },

  'GET /api/templates': { role: 'viewer', request: () => ({ path: '/api/templates' }) },
  'POST /api/templates': {
    role: 'admin',
    session: 'person',
    request: () => ({ path: '/api/templates', body: { name: 'Team', role: 'worker', content: 'Work.' } }),
  },
  'GET /api/templates/default/:role': { role: 'viewer', request: () => ({ path: '/api/templates/default/worker' }) },
  'GET /api/templates/role/:role': { role: 'viewer', request: () => ({ path: '/api/templates/role/worker' }) },
  'GET /api/templates/:id': { role: 'viewer', request: (w) => ({ path: `/api/templates/${w.template}` }) },
  'PUT /api/templates/:id': {
    role: 'admin',
    session: 'person',
    request: (w) => ({ path: `/api/templates/${w.template}`, body: { content: 'Changed.' } }),
  },
  'DELETE /api/templates/:id': {
    role: 'admin',
    session: 'person',
    request: async (w) => ({ path: `/api/templates/${await w.fresh.template()}` }),
  },
  'POST /api/templates/:id/reset': { role: 'admin', session: 'person', request: (w) => ({ path: `/api/templates/${w.template}/reset` }) },
};

type CallerKind = 'none' | 'bad' | 'revoked' | 'ended' | 'admin' | 'person-admin' | 'member' | 'viewer' | 'session' | 'runner';
const CALLERS: CallerKind[] = ['none', 'bad', 'revoked', 'ended', 'admin', 'person-admin', 'member', 'viewer', 'session', 'runner'];
const RANK: Record<Role, number> = { open: -1, viewer: 0, member: 1, admin: 2 };

/** What the contract answers `caller` on `route` (a session token: on `target`). */
function expected(route: RouteCase, caller: CallerKind, target: Target): 'allow' | 401 | 403 {
  if (route.role === 'open') return 'allow';
  switch (caller) {
    case 'none':
    case 'bad':
    case 'revoked':
    case 'ended':
      return 401;
    case 'runner':
      return 403;
    case 'admin':
    case 'person-admin':
      return 'allow';
    case 'member':
      return RANK[route.role] <= RANK.member ? 'allow' : 403;
    case 'viewer':
      return route.role === 'viewer' ? 'allow' : 403;
    case 'session':
      if (route.role === 'admin' || route.session === 'person') return 403;
      return sessionTargets(route)[target] ?? 403;
  }
}

const sessionTargets = (route: RouteCase): Partial<Record<Target, Verdict>> =>
  route.session === 'person' ? { own: 403 } : (route.session ?? { own: 'allow' });

describe('every route against every caller (§23, §15.6, §1.1)', async () => {
  const skills = tempDir();
  mkdirSync(join(skills, 'matrix-skill'));
  writeFileSync(
    join(skills, 'matrix-skill', 'manifest.json'),
    JSON.stringify({ name: 'Matrix', version: '1.0.0', description: 'd', type: 'system', assignTo: ['all'] }),
  );
  const server = await inProcess({ MAESTRO_TOKEN: ADMIN, SKILLS_DIR: skills, MAESTRO_MESSAGE_RATE: '0' });
  const { app } = server;
  const { ok } = appClient(app);
  const admin = { authorization: `Bearer ${ADMIN}` };
  const as = async (method: string, path: string, body?: unknown, token = ADMIN) =>
    ok(method, path, body, { authorization: `Bearer ${token}` });

  const project = (await as('POST', '/api/projects', { name: 'Ours' })).id as string;
  const foreignProject = (await as('POST', '/api/projects', { name: 'Theirs' })).id as string;
  const newTask = async (projectId = project) => (await as('POST', '/api/tasks', { projectId, title: 'Work' })).id as string;
  const task = await newTask();
  const foreignTask = await newTask(foreignProject);
  const spawn = async (body: Record<string, unknown>, token = ADMIN) => {
    const res = await as(
      'POST',
      '/api/sessions/spawn',
      { taskIds: [await newTask(body.projectId as string)], strategy: 'queue', ...body },
      token,
    );
    return { id: res.sessionId as string, token: res.envVars.MAESTRO_SESSION_TOKEN as string };
  };
  const own = await spawn({ projectId: project });
  const spawned = await spawn({ projectId: project }, own.token);
  const sibling = await spawn({ projectId: project });
  const foreign = await spawn({ projectId: foreignProject });
  const newSession = async (projectId = project, spawnedBy?: string) =>
    (await as('POST', '/api/sessions', { projectId, taskIds: [], ...(spawnedBy && { metadata: { spawnedBy } }) })).id as string;
  const newToken = async (role: string) => (await as('POST', '/api/tokens', { name: `A ${role}`, role })).token as string;
  const revoked = await as('POST', '/api/tokens', { name: 'Gone', role: 'admin' });
  await as('DELETE', `/api/tokens/${revoked.id}`);
  // A session token stops working once its session ended (§15.6).
  const ended = await spawn({ projectId: project });
  await as('PATCH', `/api/sessions/${ended.id}`, { status: 'completed' });
  const template = (await as('POST', '/api/templates', { name: 'Matrix', role: 'orchestrator', content: 'Lead.' })).id as string;

  const world: World = {
    project,
    foreignProject,
    task,
    foreignTask,
    sessions: { own: own.id, spawned: spawned.id, sibling: sibling.id, foreign: foreign.id },
    ownToken: own.token,
    template,
    fresh: {
      project: async () => (await as('POST', '/api/projects', { name: 'Empty' })).id,
      task: newTask,
      session: newSession,
      claimed: async (holder) => {
        const id = await newTask((await as('GET', `/api/sessions/${holder}`)).projectId);
        await as('POST', `/api/tasks/${id}/claim`, { sessionId: holder });
        return id;
      },
      message: async (from, to) => {
        const receiver = await as('GET', `/api/sessions/${to}`);
        // To a foreign session, from a person; else from the sibling (a worker of the same project may write to it).
        const sender = from ?? (to === sibling.id || receiver.projectId !== project ? null : sibling.id);
        const headers = sender ? { ...admin, 'x-session-id': sender } : admin;
        return (await ok('POST', `/api/sessions/${to}/messages`, { message: 'note' }, headers)).id;
      },
      template: async () => (await as('POST', '/api/templates', { name: 'Doomed', role: 'worker', content: 'x' })).id,
      token: async () => (await as('POST', '/api/tokens', { name: 'Doomed', role: 'viewer' })).id,
      spawnedWithToken: () => spawn({ projectId: project }),
    },
  };
  const tokens: Record<CallerKind, string | undefined> = {
    none: undefined,
    bad: 'not-a-token-at-all',
    revoked: revoked.token,
    ended: ended.token,
    admin: ADMIN,
    'person-admin': await newToken('admin'),
    member: await newToken('member'),
    viewer: await newToken('viewer'),
    session: own.token,
    runner: (await as('POST', '/api/hosts/matrix-box/token')).token,
  };

  /** One call as `caller`; an event stream is closed as soon as its status is known. */
  async function send(method: string, request: Request, token: string | undefined, extra: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
    if (token) headers.authorization = `Bearer ${token}`;
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const res = await app.request(request.path, { method, headers, body });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      await res.body?.cancel();
      return { status: res.status, body: undefined, headers: res.headers };
    }
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json');
    return { status: res.status, body: text && json ? JSON.parse(text) : text, headers: res.headers };
  }

  it('has a decision for exactly the routes the OpenAPI description lists', async () => {
    const doc = await as('GET', '/api/openapi.json');
    const described = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(Object.keys(ROUTES).sort()).toEqual(described.sort());
  });

  // Session-token cases run last, and the token's own session last of all: some allowed calls end what they act on.
  const order = (t: Target) => ['foreign', 'sibling', 'spawned', 'own'].indexOf(t);
  const cases = CALLERS.flatMap((caller) =>
    Object.entries(ROUTES).flatMap(([key, route]) => {
      const targets = caller === 'session' ? (Object.keys(sessionTargets(route)) as Target[]) : (['own'] as Target[]);
      return targets.map((target) => ({ caller, key, route, target }));
    }),
  ).sort((a, b) => (a.caller === 'session' && b.caller === 'session' ? order(a.target) - order(b.target) : 0));

  it(`answers each of ${cases.length} calls as the contract says`, async () => {
    const wrong: string[] = [];
    for (const { caller, key, route, target } of cases) {
      const [method] = key.split(' ') as [string];
      const request = await route.request(world, target, caller !== 'session');
      const res = await send(method, request, request.token ?? tokens[caller]);
      const want = expected(route, caller, target);
      const label = `${caller}${caller === 'session' ? ` (${target})` : ''} ${key} → ${res.status} ${res.body?.code ?? ''}`;
      if (want === 'allow') {
        const fine = (res.status >= 200 && res.status < 300) || (route.ok ?? []).includes(res.status);
        if (!fine) wrong.push(`${label}: expected it allowed`);
      } else if (res.status !== want) {
        wrong.push(`${label}: expected ${want}`);
      } else {
        expectError(res, want, want === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN');
      }
    }
    expect(wrong).toEqual([]);
  });

  /*
   * Who did it (§23): every event a mutation emits, and every timeline entry it writes (its own, and those the server
   * writes because of it: a link, a claim, a queue step, a stop), names the caller. The agent's CLI and MCP server send
   * the admin or a person's token with X-Session-ID, or the session token: both are the session.
   */
  const actors: [string, Record<string, string>, object][] = [
    ['the admin', { authorization: `Bearer ${ADMIN}` }, { kind: 'admin' }],
    ['a member', { authorization: `Bearer ${tokens.member}` }, { kind: 'user', id: expect.any(String), name: 'A member' }],
    ['a session token', { authorization: `Bearer ${own.token}` }, { kind: 'session', id: own.id, name: expect.any(String) }],
    [
      'the admin token with X-Session-ID',
      { authorization: `Bearer ${ADMIN}`, 'x-session-id': own.id },
      { kind: 'session', id: own.id, name: expect.any(String) },
    ],
    // A session that does not exist (a typo, a deleted session's leftover variable) is nobody: the change is the member's.
    [
      "a member's token with X-Session-ID of no session",
      { authorization: `Bearer ${tokens.member}`, 'x-session-id': 'sess_1_gone' },
      { kind: 'user', id: expect.any(String), name: 'A member' },
    ],
  ];
  let seen = 0;
  /** The events logged since the last call. */
  const since = async () => {
    const { events } = await as('GET', `/api/events?since=${seen}&limit=1000`);
    seen = events.at(-1)?.seq ?? seen;
    return events as { type: string; actor: object; data: any }[];
  };
  /** Sessions whose every timeline entry written from now on must name the actor. */
  const entriesAfter = async (ids: string[]) =>
    new Map(await Promise.all(ids.map(async (id) => [id, (await as('GET', `/api/sessions/${id}`)).timeline.length] as const)));

  it.each(actors)('names %s on every event and timeline entry of every change it makes', async (_name, headers, actor) => {
    const wrong: string[] = [];
    for (const [key, route] of Object.entries(ROUTES)) {
      const [method] = key.split(' ') as [string];
      const person = headers.authorization !== `Bearer ${own.token}`;
      if (method === 'GET' || expected(route, person ? 'member' : 'session', 'own') !== 'allow') continue;
      // Stopping or deleting ends a session: the token's session must stay live for the next change.
      if (!person && key === 'POST /api/sessions/:id/stop') continue;
      // A message to another session: to itself is refused by the message rules.
      const target: Target = key === 'POST /api/sessions/:id/messages' ? 'spawned' : 'own';
      const request = await route.request(world, target, person);
      await since();
      const before = await entriesAfter(Object.values(world.sessions).filter((id) => id !== world.sessions.foreign));
      const res = await send(method, request, undefined, headers);
      if (res.status >= 400) continue;
      const events = await since();
      if (events.length === 0 && !['POST /api/skills/:id/reload', 'POST /api/sessions/:id/attention'].includes(key)) {
        wrong.push(`${key}: no event`);
      }
      for (const e of events) if (!isDeepEqual(e.actor, actor)) wrong.push(`${key}: ${e.type} by ${JSON.stringify(e.actor)}`);
      // A session the call created (POST /api/sessions, a spawn): every entry it has is the call's.
      if (res.status === 201) for (const id of [res.body.id, res.body.sessionId]) if (String(id).startsWith('sess_')) before.set(id, 0);
      for (const [id, count] of before) {
        const written = (await send('GET', { path: `/api/sessions/${id}` }, ADMIN)).body.timeline?.slice(count) ?? [];
        for (const entry of written) {
          if (!isDeepEqual(entry.actor, actor))
            wrong.push(`${key}: timeline ${entry.type} "${entry.message}" by ${JSON.stringify(entry.actor)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('X-Session-ID is taken only from a caller who may act for a session (§16.3, §23)', async () => {
  const server = await inProcess({ MAESTRO_TOKEN: ADMIN });
  const { ok, call } = appClient(server.app);
  const admin = { authorization: `Bearer ${ADMIN}` };
  const project = (await ok('POST', '/api/projects', { name: 'Inbox' }, admin)).id;
  const [reader, writer] = [
    await ok('POST', '/api/sessions', { projectId: project, taskIds: [], name: 'reader' }, admin),
    await ok('POST', '/api/sessions', { projectId: project, taskIds: [], name: 'writer' }, admin),
  ];
  const viewer = await ok('POST', '/api/tokens', { name: 'Vera', role: 'viewer' }, admin);
  const asViewer = { authorization: `Bearer ${viewer.token}`, 'x-session-id': reader.id };

  it('a viewer naming the receiver reads its inbox without taking delivery: nothing changes, no event', async () => {
    const sent = await ok(
      'POST',
      `/api/sessions/${reader.id}/messages`,
      { message: 'for the agent' },
      { ...admin, 'x-session-id': writer.id },
    );
    const { events: before } = await ok('GET', '/api/events?limit=1000', undefined, admin);
    const read = await call('GET', `/api/sessions/${reader.id}/messages`, undefined, asViewer);
    expect(read.status).toBe(200);
    expect(read.body.map((m: any) => [m.id, m.status])).toEqual([[sent.id, 'pending']]);
    expect((await ok('GET', `/api/messages/${sent.id}`, undefined, admin)).status).toBe('pending');
    expect((await ok('GET', '/api/events?limit=1000', undefined, admin)).events).toEqual(before);
    // The agent itself still takes delivery.
    const taken = await ok('GET', `/api/sessions/${reader.id}/messages`, undefined, { ...admin, 'x-session-id': reader.id });
    expect(taken.map((m: any) => m.status)).toEqual(['delivered']);
  });

  it('GET /api/me says who a change would be recorded as', async () => {
    const me = async (headers: Record<string, string>) => (await ok('GET', '/api/me', undefined, headers)).actor;
    expect(await me(asViewer)).toEqual({ kind: 'user', id: viewer.id, name: 'Vera' });
    expect(await me({ ...admin, 'x-session-id': 'sess_1_gone' })).toEqual({ kind: 'admin' });
    expect(await me({ ...admin, 'x-session-id': reader.id })).toEqual({ kind: 'session', id: reader.id, name: 'reader' });
  });
});

describe('a session token cannot reach another project through the IDs in a body, nor read it through a child link (§15.6, issue 21 item 4)', async () => {
  const server = await inProcess({ MAESTRO_TOKEN: ADMIN });
  const { ok, call } = appClient(server.app);
  const admin = { authorization: `Bearer ${ADMIN}` };
  const [mine, theirs] = [
    (await ok('POST', '/api/projects', { name: 'Mine' }, admin)).id,
    (await ok('POST', '/api/projects', { name: 'Theirs' }, admin)).id,
  ];
  const task = async (projectId: string, title: string) => (await ok('POST', '/api/tasks', { projectId, title }, admin)).id as string;
  const [own, foreign] = [await task(mine, 'Ours'), await task(theirs, 'Their secret plan')];
  const spawned = await ok('POST', '/api/sessions/spawn', { projectId: mine, taskIds: [own], strategy: 'queue' }, admin);
  const agent = spawned.sessionId as string;
  const asAgent = { authorization: `Bearer ${spawned.envVars.MAESTRO_SESSION_TOKEN}` };
  const foreignSession = (await ok('POST', '/api/sessions', { projectId: theirs, taskIds: [] }, admin)).id as string;

  it('refuses each with 403 naming the foreign ID, leaves the other project as it was, and lists only its own children', async () => {
    const before = await ok('GET', `/api/tasks/${foreign}`, undefined, admin);
    const tries: [string, string, object, string][] = [
      ['POST', '/api/sessions/spawn', { projectId: mine, taskIds: [own, foreign] }, foreign],
      ['POST', '/api/sessions', { projectId: mine, taskIds: [foreign] }, foreign],
      ['PATCH', `/api/sessions/${agent}`, { taskIds: [own, foreign] }, foreign],
      ['POST', '/api/tasks', { projectId: mine, title: 'Planted', parentId: foreign }, foreign],
      ['POST', `/api/sessions/${agent}/queue/push`, { taskId: foreign }, foreign],
      ['PATCH', `/api/tasks/${own}`, { sessionIds: [agent, foreignSession] }, foreignSession],
    ];
    for (const [method, path, body, id] of tries) {
      const res = await call(method, path, body, asAgent);
      expectError(res, 403, 'FORBIDDEN', new RegExp(`${id} is in another project`));
      expect(res.body.details, `${method} ${path}`).toMatchObject({ projectId: theirs });
    }
    expect(await ok('GET', `/api/tasks/${foreign}`, undefined, admin)).toEqual(before);
    expect((await ok('GET', `/api/tasks/${foreign}/children`, undefined, admin)).length).toBe(0);
    expect((await ok('GET', `/api/sessions/${foreignSession}`, undefined, admin)).taskIds).toEqual([]);
    expect((await ok('GET', `/api/sessions?projectId=${mine}`, undefined, admin)).length).toBe(1);
    // Nor does it read another project's task as a child of its own (a person may link them so, §2.2).
    await ok('POST', '/api/tasks', { projectId: theirs, title: 'Their child', parentId: own }, admin);
    const children = await call('GET', `/api/tasks/${own}/children`, undefined, asAgent);
    expect(children.status).toBe(200);
    expect(children.body.map((t: any) => t.projectId)).not.toContain(theirs);
    expect((await ok('GET', `/api/tasks/${own}/children`, undefined, admin)).map((t: any) => t.title)).toEqual(['Their child']);
    // The same calls within its own project still work.
    expect((await call('PATCH', `/api/sessions/${agent}`, { taskIds: [own] }, asAgent)).status).toBe(200);
    expect((await call('POST', '/api/tasks', { projectId: mine, title: 'Child', parentId: own }, asAgent)).status).toBe(201);
  });
});

const isDeepEqual = (a: unknown, b: unknown) => {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
};
