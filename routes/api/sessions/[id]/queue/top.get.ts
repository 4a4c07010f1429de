import { QueueResult } from '../../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'The next queued item, without starting it',
  response: QueueResult,
  errors: { 400: 'VALIDATION_ERROR (the session does not use the queue strategy)', 404: 'NOT_FOUND' },
};
export default (c: Ctx) => c.json(c.var.services.queues.top(c.req.param('id')!));
