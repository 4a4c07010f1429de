import { PersonTokenView } from '../../../lib/domain/entities.js';
import type { Ctx } from '../../../lib/http/app.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "List people's tokens (never their secrets)",
  response: [PersonTokenView],
  errors: { 403: 'FORBIDDEN (not an admin)' },
};
export default (c: Ctx) => c.json(c.var.services.people.list());
