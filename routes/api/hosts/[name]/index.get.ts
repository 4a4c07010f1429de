import type { Ctx } from '../../../../lib/app.js';

export default (c: Ctx) => c.json(c.var.services.hosts.get(c.req.param('name')!));
