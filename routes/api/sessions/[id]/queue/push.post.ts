import { QueueResult } from '../../../../../lib/domain/entities.js';
import { QueuePush } from '../../../../../lib/domain/requests.js';
import { requireMayChangeSession, requireNamedInScope } from '../../../../../lib/http/access.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import { body } from '../../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Append a task to the queue',
  body: QueuePush,
  response: QueueResult,
  errors: {
    400: 'VALIDATION_ERROR (the session does not use the queue strategy)',
    403: 'FORBIDDEN (a session token on another session, or pushing a task of another project)',
    404: 'NOT_FOUND',
  },
};
export default async (c: Ctx) => {
  requireMayChangeSession(c, c.req.param('id')!);
  const { queues } = c.var.services;
  // The queue checks come before the body's (contract §8).
  queues.get(c.req.param('id')!);
  const { taskId } = await body(c, QueuePush);
  requireNamedInScope(c, 'tasks', [taskId]);
  return c.json(await queues.push(c.req.param('id')!, taskId));
};
