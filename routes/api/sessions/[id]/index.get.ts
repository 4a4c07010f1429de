import { Session } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Get a session with its events and timeline',
  response: Session,
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default (c: Ctx) => c.var.services.reads.respond(c, () => ({ value: c.var.services.sessions.get(c.req.param('id')!) }));
