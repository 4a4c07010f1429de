import type { Ctx } from '../../../../lib/app.js';

export default async (c: Ctx) => c.json(await c.var.services.hosts.remove(c.req.param('name')!));
