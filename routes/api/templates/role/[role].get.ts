import { Template } from '../../../../lib/domain/entities.js';
import { roleParam } from '../../../../lib/domain/requests.js';
import { notFound } from '../../../../lib/errors.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { parseInput } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'The template a role uses',
  response: Template,
  errors: { 400: 'VALIDATION_ERROR (not a role)', 404: 'NOT_FOUND' },
};
export default (c: Ctx) => {
  const role = parseInput(roleParam, c.req.param('role'));
  const template = c.var.services.templates.forRole(role);
  if (!template) throw notFound(`No template for role ${role}`, { role });
  return c.json(template);
};
