import { MergeResult } from '../../../../lib/domain/entities.js';
import { MergeRequest } from '../../../../lib/domain/workspace-requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { callerSession } from '../../../../lib/http/caller.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Merge the session's worktree branch into its base branch (squash, merge or rebase)",
  body: MergeRequest,
  response: MergeResult,
  errors: {
    400: 'VALIDATION_ERROR',
    403: 'FORBIDDEN',
    404: 'SESSION_NOT_FOUND',
    409: 'SESSION_RUNNING, NO_WORKSPACE, WORKSPACE_DIRTY or MERGE_CONFLICT',
    503: 'HOST_OFFLINE',
  },
};
export default async (c: Ctx) => {
  const input = await body(c, MergeRequest);
  return c.json(await c.var.services.hosts.workspaces.merge(c.req.param('id')!, input, callerSession(c)));
};
