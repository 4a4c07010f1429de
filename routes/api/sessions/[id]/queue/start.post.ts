import type { Ctx } from '../../../../../lib/app.js';
import { QueueResult } from '../../../../../lib/entities.js';
import type { RouteDoc } from '../../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Start processing the next queued item',
  response: QueueResult,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.queues.start(c.req.param('id')!));
