import type { Ctx } from '../../../lib/app.js';
import { ClaimNext } from '../../../lib/schemas.js';
import { body } from '../../../lib/validation.js';

export default async (c: Ctx) => c.json(await c.var.services.claims.claimNext(await body(c, ClaimNext)));
