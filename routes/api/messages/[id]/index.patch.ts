import { Message } from '../../../../lib/domain/entities.js';
import { UpdateMessage } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Mark a message delivered or read (its receiver, or a person)',
  body: UpdateMessage,
  response: Message,
  errors: { 400: 'VALIDATION_ERROR', 403: 'FORBIDDEN', 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => {
  const caller = callerSession(c);
  const { status } = await body(c, UpdateMessage);
  return c.json(await c.var.services.messages.update(c.req.param('id')!, status, caller));
};
