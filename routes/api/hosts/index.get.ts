import type { Ctx } from '../../../lib/app.js';
import { Host } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'List runners, online and offline', response: [Host] };
export default (c: Ctx) => c.json(c.var.services.hosts.list());
