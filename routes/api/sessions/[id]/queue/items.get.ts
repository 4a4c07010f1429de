import { QueueItems } from '../../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "The queue's items, in order, and counts",
  response: QueueItems,
  errors: { 400: 'VALIDATION_ERROR (the session does not use the queue strategy)', 404: 'NOT_FOUND' },
};
export default (c: Ctx) => {
  const { queue, stats } = c.var.services.queues.read(c.req.param('id')!);
  return c.json({ items: queue.items, stats });
};
