import { QueueResult } from '../../../../../lib/domain/entities.js';
import { QueueFail } from '../../../../../lib/domain/requests.js';
import { requireMayChangeSession } from '../../../../../lib/http/access.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import { body } from '../../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Fail the queue item being processed',
  body: QueueFail,
  response: QueueResult,
  errors: {
    400: 'VALIDATION_ERROR (the session does not use the queue strategy)',
    403: 'FORBIDDEN (a session token on another session)',
    404: 'NOT_FOUND',
  },
};
export default async (c: Ctx) => {
  requireMayChangeSession(c, c.req.param('id')!);
  const { queues } = c.var.services;
  queues.get(c.req.param('id')!);
  return c.json(await queues.fail(c.req.param('id')!, (await body(c, QueueFail)).reason));
};
