import { WorkspaceDiff } from '../../../../lib/domain/entities.js';
import { DiffQuery } from '../../../../lib/domain/workspace-requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { query } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'What the agent changed in its worktree: commits, uncommitted and untracked work, and would-be conflicts',
  query: DiffQuery,
  response: WorkspaceDiff,
  errors: { 404: 'SESSION_NOT_FOUND', 409: 'NO_WORKSPACE', 503: 'HOST_OFFLINE' },
};
export default async (c: Ctx) => {
  const { stat } = query(c, DiffQuery);
  return c.json(await c.var.services.hosts.workspaces.diff(c.req.param('id')!, stat));
};
