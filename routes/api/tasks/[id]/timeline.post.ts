import type { Ctx } from '../../../../lib/app.js';
import { TaskTimelinePost } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) =>
  c.json(await c.var.services.sessions.addTaskTimeline(c.req.param('id')!, await body(c, TaskTimelinePost)));
