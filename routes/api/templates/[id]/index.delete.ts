import type { Ctx } from '../../../../lib/app.js';

export default async (c: Ctx) => c.json(await c.var.services.templates.remove(c.req.param('id')!));
