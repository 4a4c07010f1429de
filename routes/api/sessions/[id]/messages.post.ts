import { Message } from '../../../../lib/domain/entities.js';
import { SendMessage } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { readBody } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';
import { withRetryAfter } from '../../../../lib/http/retry-after.js';

export const describe: RouteDoc = {
  summary: 'Send a message to a session',
  description:
    'The sender is the session of X-Session-ID or of a session token, else "user". Rules in order (contract §16.2): ' +
    'receiver, body, replyTo, sender, active sessions, roles, rate limit (429 with Retry-After and details.retryAfterMs).',
  tag: 'messages',
  body: SendMessage,
  response: Message,
  status: 201,
  errors: {
    400: 'VALIDATION_ERROR, SESSION_NOT_ACTIVE',
    403: 'FORBIDDEN',
    404: 'SESSION_NOT_FOUND, NOT_FOUND (replyTo)',
    429: 'RATE_LIMITED',
  },
};
export default async (c: Ctx) => {
  const from = callerSession(c);
  const input = await readBody(c);
  return c.json(await withRetryAfter(c, c.var.services.messages.send(c.req.param('id')!, input, from)), 201);
};
