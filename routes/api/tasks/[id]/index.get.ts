import type { Ctx } from '../../../../lib/app.js';
import { taskView } from '../../../../lib/types.js';
import { Task } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'Get a task', response: Task, errors: { 404: 'TASK_NOT_FOUND' } };
export default (c: Ctx) => c.json(taskView(c.var.services.tasks.get(c.req.param('id')!)));
