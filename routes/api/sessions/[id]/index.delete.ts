import { Deleted } from '../../../../lib/domain/entities.js';
import { requirePerson } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary:
    'Delete a session (its tasks are unlinked; a running agent is stopped first; its worktree goes only if it holds no unmerged work)',
  response: Deleted,
  errors: { 403: 'FORBIDDEN (a session token)', 404: 'SESSION_NOT_FOUND' },
};
export default async (c: Ctx) => {
  requirePerson(c, 'delete a session');
  const id = c.req.param('id')!;
  const { hosts, sessions } = c.var.services;
  const session = sessions.get(id);
  // An agent whose session is gone would run on with no one to stop it.
  if (session.run?.state === 'running' || session.run?.state === 'pending') await hosts.stop(id, 'Session deleted', null);
  const result = await sessions.remove(id);
  await hosts.workspaces.deleted(session);
  return c.json(result);
};
