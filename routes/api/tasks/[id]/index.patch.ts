import { Task } from '../../../../lib/domain/entities.js';
import { UpdateTask } from '../../../../lib/domain/requests.js';
import { requireNamedInScope } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Update a task (with updateSource "session" only sessionStatus applies)',
  body: UpdateTask,
  response: Task,
  errors: { 403: 'FORBIDDEN (a session token naming a session of another project)', 404: 'TASK_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const input = await body(c, UpdateTask);
  requireNamedInScope(c, 'sessions', input.sessionIds);
  return c.json(await c.var.services.tasks.update(c.req.param('id')!, input, callerSession(c)));
};
