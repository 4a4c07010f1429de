import { QueueView } from '../../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "A queue session's queue and its counts",
  response: QueueView,
  errors: { 400: 'VALIDATION_ERROR (the session does not use the queue strategy)', 404: 'NOT_FOUND' },
};
export default (c: Ctx) => c.json(c.var.services.queues.read(c.req.param('id')!));
