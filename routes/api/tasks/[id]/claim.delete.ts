import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { Task } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Release a claim (the holder or a person)',
  response: Task,
  errors: { 403: 'FORBIDDEN', 404: 'TASK_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.claims.release(c.req.param('id')!, callerSession(c)));
