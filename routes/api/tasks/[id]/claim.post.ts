import { Task } from '../../../../lib/domain/entities.js';
import { ClaimTask } from '../../../../lib/domain/requests.js';
import { requireSelf } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Claim a task for a session (exactly one winner; claiming again renews the lease)',
  body: ClaimTask,
  response: Task,
  errors: { 404: 'TASK_NOT_FOUND or SESSION_NOT_FOUND', 409: 'TASK_CLAIMED, TASK_BLOCKED or TASK_CLOSED' },
};
export default async (c: Ctx) => {
  const input = await body(c, ClaimTask);
  requireSelf(c, input.sessionId, 'sessionId');
  return c.json(await c.var.services.claims.claim(c.req.param('id')!, input));
};
