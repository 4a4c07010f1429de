import { NextTask } from '../../../lib/domain/entities.js';
import { NextQuery } from '../../../lib/domain/requests.js';
import { scoped } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { query } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'The ready task with the highest priority, then the oldest (null when none is ready)',
  query: NextQuery,
  response: NextTask,
  errors: { 404: 'PROJECT_NOT_FOUND' },
};
export default (c: Ctx) => c.json(c.var.services.claims.next(scoped(c, query(c, NextQuery)).projectId));
