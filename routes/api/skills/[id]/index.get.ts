import { Skill } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Get a skill with its instructions',
  response: Skill,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => {
  const { id, name, description, type, version, instructions } = await c.var.services.skills.get(c.req.param('id')!);
  return c.json({ id, name, description, type, version, instructions });
};
