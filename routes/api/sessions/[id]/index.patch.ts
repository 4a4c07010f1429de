import type { Ctx } from '../../../../lib/app.js';
import { UpdateSession } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';
import { Session } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Update a session: status, taskIds, agentId, env; append events and timeline entries',
  body: UpdateSession,
  response: Session,
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) =>
  c.json(await c.var.services.sessions.update(c.req.param('id')!, await body(c, UpdateSession)));
