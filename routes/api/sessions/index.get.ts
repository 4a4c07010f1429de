import { Session } from '../../../lib/domain/entities.js';
import { SessionQuery } from '../../../lib/domain/requests.js';
import { scoped } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { query } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';
import { listResponse } from '../../../lib/http/paging.js';

export const describe: RouteDoc = { summary: 'List sessions', query: SessionQuery, response: [Session] };
export default (c: Ctx) => {
  const q = scoped(c, query(c, SessionQuery));
  return listResponse(
    c,
    () => c.var.services.sessions.list(q),
    q,
    (s) => s.startedAt,
  );
};
