import type { Ctx } from '../../../../lib/app.js';
import { SessionTimelinePost } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) =>
  c.json(await c.var.services.sessions.addTimeline(c.req.param('id')!, await body(c, SessionTimelinePost)));
