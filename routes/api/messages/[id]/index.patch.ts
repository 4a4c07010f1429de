import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { UpdateMessage } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) => {
  const caller = callerSession(c);
  const { status } = await body(c, UpdateMessage);
  return c.json(await c.var.services.messages.update(c.req.param('id')!, status, caller));
};
