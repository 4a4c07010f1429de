import type { Ctx } from '../../../lib/app.js';
import { SkillSummary } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'List skills', response: [SkillSummary] };
export default async (c: Ctx) => c.json(await c.var.services.skills.list());
