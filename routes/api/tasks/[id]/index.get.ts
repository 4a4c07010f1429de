import type { Ctx } from '../../../../lib/app.js';
import { taskView } from '../../../../lib/types.js';

export default (c: Ctx) => c.json(taskView(c.var.services.tasks.get(c.req.param('id')!)));
