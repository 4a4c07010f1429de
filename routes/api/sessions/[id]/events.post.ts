import { Session } from '../../../../lib/domain/entities.js';
import { SessionEventPost } from '../../../../lib/domain/requests.js';
import { requireMayChangeSession } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Append an event to a session',
  body: SessionEventPost,
  response: Session,
  errors: { 403: 'FORBIDDEN (a session token on another session)', 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const id = c.req.param('id')!;
  requireMayChangeSession(c, id);
  return c.json(await c.var.services.sessions.addEvent(id, await body(c, SessionEventPost)));
};
