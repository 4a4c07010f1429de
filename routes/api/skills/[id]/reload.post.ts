import { SkillReloaded } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Reload a skill from disk',
  response: SkillReloaded,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.skills.reload(c.req.param('id')!));
