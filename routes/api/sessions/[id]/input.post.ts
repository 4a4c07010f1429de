import * as v from 'valibot';
import { SessionInput } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Type into the agent's terminal (a bracketed paste, then Enter as a separate key)",
  body: SessionInput,
  response: v.object({ success: v.literal(true) }),
  errors: { 403: 'FORBIDDEN', 404: 'SESSION_NOT_FOUND', 409: 'SESSION_NOT_RUNNING', 503: 'HOST_OFFLINE' },
};
export default async (c: Ctx) => {
  const { text, submit } = await body(c, SessionInput);
  return c.json(await c.var.services.hosts.input(c.req.param('id')!, text, submit, callerSession(c)));
};
