import { TimelinePage } from '../../../../lib/domain/entities.js';
import { TimelineQuery } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { query } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "A session's whole timeline, newest first, a page at a time",
  description:
    'A session keeps its newest 100 timeline entries; this pages through all of them, older ones included (contract §24.9). Pass `next` as `before` for the following page.',
  query: TimelineQuery,
  response: TimelinePage,
  errors: { 400: 'VALIDATION_ERROR', 404: 'SESSION_NOT_FOUND' },
};
export default (c: Ctx) => {
  const { before, limit } = query(c, TimelineQuery);
  return c.json(c.var.services.sessions.timeline(c.req.param('id')!, before, limit));
};
