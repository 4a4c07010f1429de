import { Deleted } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Delete a session (its tasks are unlinked)',
  response: Deleted,
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.sessions.remove(c.req.param('id')!));
