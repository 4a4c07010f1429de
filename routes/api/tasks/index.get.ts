import type { Ctx } from '../../../lib/app.js';
import { listResponse } from '../../../lib/paging.js';
import { TaskQuery } from '../../../lib/schemas.js';
import { query } from '../../../lib/validation.js';
import { Task } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'List tasks (parentId=null selects root tasks)',
  query: TaskQuery,
  response: [Task],
};
export default (c: Ctx) => {
  const q = query(c, TaskQuery);
  return listResponse(c, () => c.var.services.tasks.list(q), q, (t) => t.createdAt);
};
