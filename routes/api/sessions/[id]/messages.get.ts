import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { MessageQuery } from '../../../../lib/schemas.js';
import { query } from '../../../../lib/validation.js';

export default async (c: Ctx) =>
  c.json(await c.var.services.messages.list(c.req.param('id')!, query(c, MessageQuery), callerSession(c)));
