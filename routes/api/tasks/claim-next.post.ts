import { NextTask } from '../../../lib/domain/entities.js';
import { ClaimNext } from '../../../lib/domain/requests.js';
import { requireInScope, requireSelf } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { body } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Claim the next ready task of a project for a session, atomically (null when none is ready)',
  body: ClaimNext,
  response: NextTask,
  errors: { 400: 'VALIDATION_ERROR or SESSION_NOT_ACTIVE', 404: 'PROJECT_NOT_FOUND or SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const input = await body(c, ClaimNext);
  requireSelf(c, input.sessionId, 'sessionId');
  requireInScope(c, input.projectId);
  return c.json(await c.var.services.claims.claimNext(input));
};
