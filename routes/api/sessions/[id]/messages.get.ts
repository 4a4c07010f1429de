import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { MessageQuery } from '../../../../lib/schemas.js';
import { query } from '../../../../lib/validation.js';
import { Message } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: "A session's inbox or sent box, oldest first",
  description: 'The receiver reading its own inbox (X-Session-ID or session token) takes delivery: every pending message returned becomes delivered.',
  tag: 'messages',
  query: MessageQuery,
  response: [Message],
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) =>
  c.json(await c.var.services.messages.list(c.req.param('id')!, query(c, MessageQuery), callerSession(c)));
