import { Task } from '../../../../lib/domain/entities.js';
import { scopeOf } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "A task's direct children",
  response: [Task],
  errors: { 404: 'TASK_NOT_FOUND' },
};
export default (c: Ctx) => {
  // A person may give a task a parent in another project (§2.2); a session token sees its own project's only (§15.6).
  const own = scopeOf(c);
  const children = () => c.var.services.tasks.children(c.req.param('id')!);
  return c.var.services.reads.respond(
    c,
    () => ({ value: own === undefined ? children() : children().filter((t) => t.projectId === own) }),
    own ?? '',
  );
};
