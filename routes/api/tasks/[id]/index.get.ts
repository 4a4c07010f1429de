import type { Ctx } from '../../../../lib/app.js';

export default (c: Ctx) => c.json(c.var.services.tasks.view(c.req.param('id')!));
