import { QueueResult } from '../../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Complete the queue item being processed',
  response: QueueResult,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.queues.complete(c.req.param('id')!));
