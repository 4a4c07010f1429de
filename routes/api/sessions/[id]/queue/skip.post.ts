import type { Ctx } from '../../../../../lib/app.js';
import { QueueResult } from '../../../../../lib/entities.js';
import type { RouteDoc } from '../../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Skip the item being processed, or the next queued one',
  response: QueueResult,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.queues.skip(c.req.param('id')!));
