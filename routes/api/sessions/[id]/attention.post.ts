import * as v from 'valibot';
import { Attention } from '../../../../lib/domain/entities.js';
import type { HookPayload } from '../../../../lib/domain/hook-events.js';
import { AttentionHookPost } from '../../../../lib/domain/requests.js';
import { ApiError, sessionNotFound } from '../../../../lib/errors.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Report one of the agent's hooks (`maestro hook <event>`): it moves the session's attention (§21)",
  body: AttentionHookPost,
  response: v.object({ sessionId: v.string(), attention: v.nullable(Attention) }),
  errors: { 403: 'FORBIDDEN', 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const id = c.req.param('id')!;
  const caller = callerSession(c);
  if (caller !== null && caller !== id)
    throw new ApiError(403, 'FORBIDDEN', "A session may report only its own agent's hooks", { sessionId: id });
  const { event, payload } = await body(c, AttentionHookPost);
  const session = await c.var.services.attention.hook(id, event, payload as HookPayload | undefined);
  if (!session) throw sessionNotFound(id);
  return c.json({ sessionId: id, attention: session.attention ?? null });
};
