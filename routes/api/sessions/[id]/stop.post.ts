import { Session } from '../../../../lib/domain/entities.js';
import { SessionStop } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Stop a session (its runner ends the agent's terminal)",
  body: SessionStop,
  response: Session,
  errors: { 403: 'FORBIDDEN', 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const { reason } = await body(c, SessionStop);
  return c.json(await c.var.services.hosts.stop(c.req.param('id')!, reason, callerSession(c)));
};
