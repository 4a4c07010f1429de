import type { Ctx } from '../../../../lib/app.js';
import { Host } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'Get a runner', response: Host, errors: { 404: 'HOST_NOT_FOUND' } };
export default (c: Ctx) => c.json(c.var.services.hosts.get(c.req.param('name')!));
