import type { Ctx } from '../../../../../lib/app.js';

export default async (c: Ctx) => c.json(await c.var.services.queues.complete(c.req.param('id')!));
