import type { Ctx } from '../../../../lib/app.js';

export default (c: Ctx) => c.var.services.reads.respond(c, () => ({ value: c.var.services.sessions.get(c.req.param('id')!) }));
