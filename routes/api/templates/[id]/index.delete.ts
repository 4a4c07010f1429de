import { Deleted } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'Delete a template', response: Deleted, errors: { 404: 'NOT_FOUND' } };
export default async (c: Ctx) => c.json(await c.var.services.templates.remove(c.req.param('id')!));
