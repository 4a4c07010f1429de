import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { SessionInput } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) => {
  const { text, submit } = await body(c, SessionInput);
  return c.json(await c.var.services.hosts.input(c.req.param('id')!, text, submit, callerSession(c)));
};
