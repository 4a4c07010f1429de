import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { UpdateMessage } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';
import { Message } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

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
