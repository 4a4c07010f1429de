import type { Ctx } from '../../../../../lib/app.js';
import { QueueFail } from '../../../../../lib/schemas.js';
import { body } from '../../../../../lib/validation.js';

export default async (c: Ctx) => {
  const { queues } = c.var.services;
  queues.get(c.req.param('id')!);
  return c.json(await queues.fail(c.req.param('id')!, (await body(c, QueueFail)).reason));
};
