import type { Ctx } from '../../../../lib/app.js';
import { ClaimTask } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) => c.json(await c.var.services.claims.claim(c.req.param('id')!, await body(c, ClaimTask)));
