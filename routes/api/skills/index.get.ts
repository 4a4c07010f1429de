import { SkillSummary } from '../../../lib/domain/entities.js';
import type { Ctx } from '../../../lib/http/app.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'List skills', response: [SkillSummary] };
export default async (c: Ctx) => c.json(await c.var.services.skills.list());
