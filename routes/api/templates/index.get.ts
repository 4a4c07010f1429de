import { Template } from '../../../lib/domain/entities.js';
import type { Ctx } from '../../../lib/http/app.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'List templates', response: [Template] };
export default (c: Ctx) => c.json(c.var.services.templates.list());
