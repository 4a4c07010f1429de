import { Template } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'Get a template', response: Template, errors: { 404: 'NOT_FOUND' } };
export default (c: Ctx) => c.json(c.var.services.templates.get(c.req.param('id')!));
