import * as v from 'valibot';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Forget an offline runner (refused while it is online or has sessions that are not final)',
  response: v.object({ success: v.literal(true), name: v.string() }),
  errors: { 400: 'VALIDATION_ERROR', 403: 'FORBIDDEN (a session token)', 404: 'HOST_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.hosts.remove(c.req.param('name')!));
