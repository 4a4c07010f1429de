import { TaskTimelineResult } from '../../../../lib/domain/entities.js';
import { TaskTimelinePost } from '../../../../lib/domain/requests.js';
import { requireSelf } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Write to a session's timeline on behalf of a task",
  body: TaskTimelinePost,
  response: TaskTimelineResult,
  errors: { 404: 'TASK_NOT_FOUND or SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const input = await body(c, TaskTimelinePost);
  requireSelf(c, input.sessionId, 'sessionId');
  return c.json(await c.var.services.sessions.addTaskTimeline(c.req.param('id')!, input));
};
