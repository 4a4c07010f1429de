import type { Ctx } from '../../../lib/app.js';
import { Template } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'List templates', response: [Template] };
export default (c: Ctx) => c.json(c.var.services.templates.list());
