import type { Ctx } from '../../../../lib/app.js';
import { roleParam } from '../../../../lib/schemas.js';
import { parseInput } from '../../../../lib/validation.js';
import { SkillSummary } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'The skills a role loads', response: [SkillSummary] };
export default async (c: Ctx) => c.json(await c.var.services.skills.forRole(parseInput(roleParam, c.req.param('role'))));
