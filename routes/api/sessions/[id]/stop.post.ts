import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { SessionStop } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) => {
  const { reason } = await body(c, SessionStop);
  return c.json(await c.var.services.hosts.stop(c.req.param('id')!, reason, callerSession(c)));
};
