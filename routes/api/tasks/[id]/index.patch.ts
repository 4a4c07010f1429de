import type { Ctx } from '../../../../lib/app.js';
import { UpdateTask } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';
import { Task } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Update a task (with updateSource "session" only sessionStatus applies)',
  body: UpdateTask,
  response: Task,
  errors: { 404: 'TASK_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.tasks.update(c.req.param('id')!, await body(c, UpdateTask)));
