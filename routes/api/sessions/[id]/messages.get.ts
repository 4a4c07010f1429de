import { Message } from '../../../../lib/domain/entities.js';
import { MessageQuery } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { query } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "A session's inbox or sent box, oldest first",
  description:
    'The receiver reading its own inbox (X-Session-ID or session token) takes delivery: every pending message returned becomes delivered.',
  tag: 'messages',
  query: MessageQuery,
  response: [Message],
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const id = c.req.param('id')!;
  const q = query(c, MessageQuery);
  const caller = callerSession(c);
  const { messages, reads } = c.var.services;
  if (messages.takesDelivery(id, q, caller)) return c.json(await messages.list(id, q, caller));
  // Without side effects the answer depends on the state alone: served from the read cache between changes.
  return reads.respond(c, () => ({ value: messages.peek(id, q) }));
};
