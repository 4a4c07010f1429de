import { Session } from '../../../../lib/domain/entities.js';
import { UpdateSession } from '../../../../lib/domain/requests.js';
import { requireMayUpdateSession, requireNamedInScope } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Update a session: status, taskIds, agentId, env; append events and timeline entries',
  body: UpdateSession,
  response: Session,
  errors: {
    403: 'FORBIDDEN (a session token on another session, changing env, or naming a task of another project)',
    404: 'SESSION_NOT_FOUND',
  },
};
export default async (c: Ctx) => {
  const id = c.req.param('id')!;
  const input = await body(c, UpdateSession);
  requireMayUpdateSession(c, id, input);
  requireNamedInScope(c, 'tasks', input.taskIds);
  return c.json(await c.var.services.sessions.update(id, input));
};
