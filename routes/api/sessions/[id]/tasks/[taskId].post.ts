import type { Ctx } from '../../../../../lib/app.js';

export default async (c: Ctx) =>
  c.json(await c.var.services.sessions.setLink(c.req.param('id')!, c.req.param('taskId')!, true));
