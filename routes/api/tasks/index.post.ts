import { Task } from '../../../lib/domain/entities.js';
import { CreateTask } from '../../../lib/domain/requests.js';
import { requireInScope, requireNamedInScope } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { body } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Create a task',
  body: CreateTask,
  response: Task,
  status: 201,
  errors: { 403: 'FORBIDDEN (a session token: another project, or its parent)', 404: 'PROJECT_NOT_FOUND or TASK_NOT_FOUND (parent)' },
};
export default async (c: Ctx) => {
  const input = await body(c, CreateTask);
  requireInScope(c, input.projectId);
  requireNamedInScope(c, 'tasks', [input.parentId]);
  return c.json(await c.var.services.tasks.create(input), 201);
};
