import type { Ctx } from '../../../../lib/app.js';
import { notFound } from '../../../../lib/errors.js';
import { roleParam } from '../../../../lib/schemas.js';
import { parseInput } from '../../../../lib/validation.js';
import { Template } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'The template a role uses',
  response: Template,
  errors: { 404: 'NOT_FOUND' },
};
export default (c: Ctx) => {
  const role = parseInput(roleParam, c.req.param('role'));
  const template = c.var.services.templates.forRole(role);
  if (!template) throw notFound(`No template for role ${role}`, { role });
  return c.json(template);
};
