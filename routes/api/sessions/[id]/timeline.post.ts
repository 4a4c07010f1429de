import type { Ctx } from '../../../../lib/app.js';
import { SessionTimelinePost } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';
import { Session } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Append a timeline entry (progress, milestone, needs_input, …)',
  body: SessionTimelinePost,
  response: Session,
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) =>
  c.json(await c.var.services.sessions.addTimeline(c.req.param('id')!, await body(c, SessionTimelinePost)));
