import { Task } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Release a claim (the holder or a person)',
  response: Task,
  errors: { 403: 'FORBIDDEN', 404: 'TASK_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.claims.release(c.req.param('id')!, callerSession(c)));
