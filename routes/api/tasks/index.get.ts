import { Task } from '../../../lib/domain/entities.js';
import { TaskQuery } from '../../../lib/domain/requests.js';
import { scoped } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { query } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';
import { listResponse } from '../../../lib/http/paging.js';

export const describe: RouteDoc = {
  summary: 'List tasks (parentId=null selects root tasks)',
  query: TaskQuery,
  response: [Task],
};
export default (c: Ctx) => {
  const q = scoped(c, query(c, TaskQuery));
  return listResponse(
    c,
    () => c.var.services.tasks.list(q),
    q,
    (t) => t.createdAt,
  );
};
