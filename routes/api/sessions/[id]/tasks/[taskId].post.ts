import { Session } from '../../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Link a task to a session',
  response: Session,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.sessions.setLink(c.req.param('id')!, c.req.param('taskId')!, true));
