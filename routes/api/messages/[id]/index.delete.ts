import { Deleted } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Delete a message (its receiver, its sender, or a person)',
  response: Deleted,
  errors: { 403: 'FORBIDDEN', 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.messages.remove(c.req.param('id')!, callerSession(c)));
