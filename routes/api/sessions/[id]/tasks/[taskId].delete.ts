import type { Ctx } from '../../../../../lib/app.js';
import { Session } from '../../../../../lib/entities.js';
import type { RouteDoc } from '../../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Unlink a task from a session',
  response: Session,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) =>
  c.json(await c.var.services.sessions.setLink(c.req.param('id')!, c.req.param('taskId')!, false));
