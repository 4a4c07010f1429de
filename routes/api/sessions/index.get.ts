import type { Ctx } from '../../../lib/app.js';
import { listResponse } from '../../../lib/paging.js';
import { SessionQuery } from '../../../lib/schemas.js';
import { query } from '../../../lib/validation.js';

export default (c: Ctx) => {
  const q = query(c, SessionQuery);
  return listResponse(c, () => c.var.services.sessions.list(q), q, (s) => s.startedAt);
};
