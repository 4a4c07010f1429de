import { Deleted } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Delete a session (its tasks are unlinked; its worktree goes only if it holds no unmerged work)',
  response: Deleted,
  errors: { 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const { sessions, hosts, db } = c.var.services;
  const session = db.get('sessions', c.req.param('id')!);
  const result = await sessions.remove(c.req.param('id')!);
  if (session) await hosts.workspaces.deleted(session);
  return c.json(result);
};
