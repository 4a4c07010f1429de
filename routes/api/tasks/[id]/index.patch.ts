import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { UpdateTask } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) =>
  c.json(await c.var.services.tasks.update(c.req.param('id')!, await body(c, UpdateTask), callerSession(c)));
