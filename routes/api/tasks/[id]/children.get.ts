import { Task } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "A task's direct children",
  response: [Task],
  errors: { 404: 'TASK_NOT_FOUND' },
};
export default (c: Ctx) => c.var.services.reads.respond(c, () => ({ value: c.var.services.tasks.children(c.req.param('id')!) }));
