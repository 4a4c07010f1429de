import type { Ctx } from '../../../../../lib/app.js';
import { QueueFail } from '../../../../../lib/schemas.js';
import { body } from '../../../../../lib/validation.js';
import { QueueResult } from '../../../../../lib/entities.js';
import type { RouteDoc } from '../../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Fail the queue item being processed',
  body: QueueFail,
  response: QueueResult,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => {
  const { queues } = c.var.services;
  queues.get(c.req.param('id')!);
  return c.json(await queues.fail(c.req.param('id')!, (await body(c, QueueFail)).reason));
};
