import { QueueResult } from '../../../../../lib/domain/entities.js';
import { requireMayChangeSession } from '../../../../../lib/http/access.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Skip the item being processed, or the next queued one',
  response: QueueResult,
  errors: {
    400: 'VALIDATION_ERROR (the session does not use the queue strategy)',
    403: 'FORBIDDEN (a session token on another session)',
    404: 'NOT_FOUND',
  },
};
export default async (c: Ctx) => {
  const id = c.req.param('id')!;
  requireMayChangeSession(c, id);
  return c.json(await c.var.services.queues.skip(id));
};
