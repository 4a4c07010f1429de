import { DefaultTemplate } from '../../../../lib/domain/entities.js';
import { DEFAULT_TEMPLATES } from '../../../../lib/domain/prompts.js';
import { roleParam } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { parseInput } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'The built-in template content of a role',
  response: DefaultTemplate,
  errors: { 400: 'VALIDATION_ERROR (not a role)' },
};
export default (c: Ctx) => {
  const role = parseInput(roleParam, c.req.param('role'));
  return c.json({ role, content: DEFAULT_TEMPLATES[role].content });
};
