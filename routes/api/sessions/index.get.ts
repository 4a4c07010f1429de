import type { Ctx } from '../../../lib/app.js';
import { listResponse } from '../../../lib/paging.js';
import { SessionQuery } from '../../../lib/schemas.js';
import { query } from '../../../lib/validation.js';
import { Session } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'List sessions', query: SessionQuery, response: [Session] };
export default (c: Ctx) => {
  const q = query(c, SessionQuery);
  return listResponse(c, () => c.var.services.sessions.list(q), q, (s) => s.startedAt);
};
