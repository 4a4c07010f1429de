import type { Ctx } from '../../../../lib/app.js';
import { taskView } from '../../../../lib/types.js';

export default (c: Ctx) => c.var.services.reads.respond(c, () => ({ value: taskView(c.var.services.tasks.get(c.req.param('id')!)) }));
