import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Revoke a person's token: it stops working at once, and its open WebSockets and event streams are closed",
  status: 204,
  errors: { 403: 'FORBIDDEN (not an admin)', 404: 'TOKEN_NOT_FOUND' },
};
export default async (c: Ctx) => {
  await c.var.services.people.revoke(c.req.param('id')!);
  return c.body(null, 204);
};
