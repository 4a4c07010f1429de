import { Deleted } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Delete a task (its children stay)',
  response: Deleted,
  errors: { 404: 'TASK_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.tasks.remove(c.req.param('id')!));
