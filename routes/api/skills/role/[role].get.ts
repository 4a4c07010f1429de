import type { Ctx } from '../../../../lib/app.js';
import { roleParam } from '../../../../lib/schemas.js';
import { parseInput } from '../../../../lib/validation.js';

export default async (c: Ctx) => c.json(await c.var.services.skills.forRole(parseInput(roleParam, c.req.param('role'))));
