import type { Ctx } from '../../../../lib/app.js';
import { DEFAULT_TEMPLATES } from '../../../../lib/prompts.js';
import { roleParam } from '../../../../lib/schemas.js';
import { parseInput } from '../../../../lib/validation.js';
import { DefaultTemplate } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'The built-in template content of a role', response: DefaultTemplate };
export default (c: Ctx) => {
  const role = parseInput(roleParam, c.req.param('role'));
  return c.json({ role, content: DEFAULT_TEMPLATES[role].content });
};
