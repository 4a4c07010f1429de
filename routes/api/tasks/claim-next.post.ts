import type { Ctx } from '../../../lib/app.js';
import { NextTask } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';
import { ClaimNext } from '../../../lib/schemas.js';
import { body } from '../../../lib/validation.js';

export const describe: RouteDoc = {
  summary: 'Claim the next ready task of a project for a session, atomically (null when none is ready)',
  body: ClaimNext,
  response: NextTask,
  errors: { 400: 'VALIDATION_ERROR or SESSION_NOT_ACTIVE', 404: 'PROJECT_NOT_FOUND or SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.claims.claimNext(await body(c, ClaimNext)));
