import type { Ctx } from '../../../../../lib/app.js';
import { QueuePush } from '../../../../../lib/schemas.js';
import { body } from '../../../../../lib/validation.js';
import { QueueResult } from '../../../../../lib/entities.js';
import type { RouteDoc } from '../../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Append a task to the queue',
  body: QueuePush,
  response: QueueResult,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => {
  const { queues } = c.var.services;
  // The queue checks come before the body's (contract §8).
  queues.get(c.req.param('id')!);
  return c.json(await queues.push(c.req.param('id')!, (await body(c, QueuePush)).taskId));
};
