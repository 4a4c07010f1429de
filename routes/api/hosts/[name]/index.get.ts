import { Host } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'Get a runner', response: Host, errors: { 404: 'HOST_NOT_FOUND' } };
export default (c: Ctx) => c.json(c.var.services.hosts.get(c.req.param('name')!));
