import type { Ctx } from '../../../../lib/app.js';
import { Message } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'A message (no side effect)', response: Message, errors: { 404: 'NOT_FOUND' } };
export default (c: Ctx) => c.json(c.var.services.messages.get(c.req.param('id')!));
