import { SpawnRequest, SpawnResult } from '../../../lib/domain/entities.js';
import { parseSpawnRequest } from '../../../lib/domain/spawn.js';
import { callerOf, requireInScope, requireNamedInScope, requireOwnRunner, requireSelf, tokenSession } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { readBody } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Spawn an agent session for tasks: its manifest is written and its terminal requested',
  body: SpawnRequest,
  response: SpawnResult,
  status: 201,
  errors: {
    400: 'missing_project_id, invalid_task_ids, invalid_spawn_source, missing_session_id, invalid_role, invalid_strategy or VALIDATION_ERROR',
    403: "FORBIDDEN (a session token: another project, a task of one, another parent, or a runner other than its session's)",
    404: 'task_not_found, project_not_found, parent_session_not_found or HOST_NOT_FOUND',
  },
};
export default async (c: Ctx) => {
  const { db, spawner } = c.var.services;
  const request = parseSpawnRequest(await readBody(c), db);
  const caller = callerOf(c);
  if (caller.kind === 'session') {
    // A session spawns in its own project, as itself: the child is one it may then control (§15.6).
    requireInScope(c, request.projectId);
    requireNamedInScope(c, 'tasks', request.taskIds);
    requireSelf(c, request.sessionId, 'sessionId');
    requireSelf(c, request.spawnedBy, 'spawnedBy');
    request.spawnedBy = caller.sessionId;
    // An agent's workers start beside it, on its own session's runner (the only one it may launch on): an agent on a
    // remote runner spawning without naming one would otherwise be refused the server's local runner.
    request.host ??= tokenSession(c)?.host ?? undefined;
    requireOwnRunner(c, request.host ?? c.var.services.hosts.localName);
  }
  return c.json(await spawner.spawn(request), 201);
};
