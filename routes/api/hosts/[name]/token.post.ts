import * as v from 'valibot';
import { validationError } from '../../../../lib/errors.js';
import { requirePerson } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';
import { isHostName } from '../../../../lib/runner-protocol.js';

export const describe: RouteDoc = {
  summary: "Create a runner token: it may connect a runner as this host name and nothing else (replaces the host's earlier one)",
  response: v.object({ host: v.string(), token: v.string() }),
  status: 201,
  errors: { 400: 'VALIDATION_ERROR', 403: 'FORBIDDEN (not the admin token)' },
};
export default async (c: Ctx) => {
  requirePerson(c, 'create runner tokens');
  const name = c.req.param('name')!;
  if (!isHostName(name)) throw validationError('Invalid host name', { issues: [{ path: 'name', message: 'Invalid host name' }] });
  return c.json(await c.var.services.hosts.mintRunnerToken(name), 201);
};
