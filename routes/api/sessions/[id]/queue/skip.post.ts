import { QueueResult } from '../../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Skip the item being processed, or the next queued one',
  response: QueueResult,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.queues.skip(c.req.param('id')!));
