import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { Session } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';
import { SessionStop } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export const describe: RouteDoc = {
  summary: 'Stop a session (its runner ends the agent\'s terminal)',
  body: SessionStop,
  response: Session,
  errors: { 403: 'FORBIDDEN', 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const { reason } = await body(c, SessionStop);
  return c.json(await c.var.services.hosts.stop(c.req.param('id')!, reason, callerSession(c)));
};
