import type { Ctx } from '../../../../../lib/app.js';
import { QueueView } from '../../../../../lib/entities.js';
import type { RouteDoc } from '../../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'A queue session\'s queue and its counts',
  response: QueueView,
  errors: { 404: 'NOT_FOUND' },
};
export default (c: Ctx) => c.json(c.var.services.queues.read(c.req.param('id')!));
