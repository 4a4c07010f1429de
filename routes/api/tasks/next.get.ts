import type { Ctx } from '../../../lib/app.js';
import { NextQuery } from '../../../lib/schemas.js';
import { query } from '../../../lib/validation.js';

export default (c: Ctx) => c.json(c.var.services.claims.next(query(c, NextQuery).projectId));
