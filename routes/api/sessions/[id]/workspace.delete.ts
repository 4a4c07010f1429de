import { Session } from '../../../../lib/domain/entities.js';
import { RemoveWorkspaceQuery } from '../../../../lib/domain/workspace-requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { query } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Remove the session's worktree (its whole state is kept under refs/maestro/archive/<sessionId>)",
  query: RemoveWorkspaceQuery,
  response: Session,
  errors: { 403: 'FORBIDDEN', 404: 'SESSION_NOT_FOUND', 409: 'SESSION_RUNNING, NO_WORKSPACE or WORKSPACE_DIRTY', 503: 'HOST_OFFLINE' },
};
export default async (c: Ctx) => {
  const { force } = query(c, RemoveWorkspaceQuery);
  return c.json(await c.var.services.hosts.workspaces.remove(c.req.param('id')!, force, callerSession(c)));
};
