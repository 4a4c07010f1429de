import type { Ctx } from '../../../../lib/app.js';
import { UpdateSession } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) =>
  c.json(await c.var.services.sessions.update(c.req.param('id')!, await body(c, UpdateSession)));
