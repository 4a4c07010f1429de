import { Template } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Reset a template to its role's built-in content",
  response: Template,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.templates.reset(c.req.param('id')!));
