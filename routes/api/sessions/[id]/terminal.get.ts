import { TerminalSnapshot } from '../../../../lib/domain/entities.js';
import { TerminalQuery } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { query } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "The last lines of the agent's terminal as plain text (a WebSocket upgrade on this path is the live terminal)",
  query: TerminalQuery,
  response: TerminalSnapshot,
  errors: { 403: 'FORBIDDEN', 404: 'SESSION_NOT_FOUND', 409: 'SESSION_NOT_RUNNING', 503: 'HOST_OFFLINE' },
};
export default async (c: Ctx) => {
  const { lines } = query(c, TerminalQuery);
  return c.json(await c.var.services.hosts.snapshot(c.req.param('id')!, lines, callerSession(c)));
};
