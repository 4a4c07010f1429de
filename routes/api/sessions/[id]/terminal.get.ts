import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';
import { TerminalQuery } from '../../../../lib/schemas.js';
import { query } from '../../../../lib/validation.js';

export default async (c: Ctx) => {
  const { lines } = query(c, TerminalQuery);
  return c.json(await c.var.services.hosts.snapshot(c.req.param('id')!, lines, callerSession(c)));
};
