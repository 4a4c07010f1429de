import type { Ctx } from '../../../../lib/app.js';
import { Template } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'Get a template', response: Template, errors: { 404: 'NOT_FOUND' } };
export default (c: Ctx) => c.json(c.var.services.templates.get(c.req.param('id')!));
