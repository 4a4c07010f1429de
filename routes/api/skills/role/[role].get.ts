import { SkillSummary } from '../../../../lib/domain/entities.js';
import { roleParam } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { parseInput } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'The skills a role loads',
  response: [SkillSummary],
  errors: { 400: 'VALIDATION_ERROR (not a role)' },
};
export default async (c: Ctx) => c.json(await c.var.services.skills.forRole(parseInput(roleParam, c.req.param('role'))));
