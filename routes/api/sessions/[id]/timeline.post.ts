import { Session } from '../../../../lib/domain/entities.js';
import { SessionTimelinePost } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Append a timeline entry (progress, milestone, needs_input, …)',
  body: SessionTimelinePost,
  response: Session,
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.sessions.addTimeline(c.req.param('id')!, await body(c, SessionTimelinePost)));
