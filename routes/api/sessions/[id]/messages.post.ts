import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { withRetryAfter } from '../../../../lib/rate-limit.js';
import { readBody } from '../../../../lib/validation.js';

export default async (c: Ctx) => {
  const from = callerSession(c);
  const input = await readBody(c);
  return c.json(await withRetryAfter(c, c.var.services.messages.send(c.req.param('id')!, input, from)), 201);
};
