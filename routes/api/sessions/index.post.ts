import { Session } from '../../../lib/domain/entities.js';
import { CreateSession } from '../../../lib/domain/requests.js';
import { requireInScope, requireNamedInScope } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { parseInput, readBody } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Create a session by hand (no manifest, no terminal)',
  body: CreateSession,
  response: Session,
  status: 201,
  errors: {
    403: 'FORBIDDEN (a session token: another project, or a task of one)',
    404: 'PROJECT_NOT_FOUND or TASK_NOT_FOUND',
    409: 'CONFLICT: the id exists',
  },
};
export default async (c: Ctx) => {
  const input = await readBody(c);
  // Legacy clients send one `taskId` instead of `taskIds` (contract §3.4).
  if (input.taskIds === undefined && typeof input.taskId === 'string') input.taskIds = [input.taskId];
  const parsed = parseInput(CreateSession, input);
  requireInScope(c, parsed.projectId);
  requireNamedInScope(c, 'tasks', parsed.taskIds);
  return c.json(await c.var.services.sessions.create(parsed), 201);
};
