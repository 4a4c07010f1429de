import * as v from 'valibot';
import { actorOf } from '../../lib/http/access.js';
import type { Ctx } from '../../lib/http/app.js';
import type { RouteDoc } from '../../lib/http/openapi.js';
import { roleOf } from '../../lib/http/roles.js';

export const describe: RouteDoc = {
  summary: 'Who the presented token is: the actor its changes are recorded as, and its role',
  tag: 'tokens',
  response: v.object({
    actor: v.object({ kind: v.string(), id: v.optional(v.string()), name: v.optional(v.string()) }),
    role: v.nullable(v.picklist(['viewer', 'member', 'admin'])),
  }),
};
export default (c: Ctx) => c.json({ actor: actorOf(c), role: roleOf(c.get('caller') ?? { kind: 'open' }) ?? null });
