import { Project } from '../../../lib/domain/entities.js';
import { ProjectQuery } from '../../../lib/domain/requests.js';
import type { Ctx } from '../../../lib/http/app.js';
import { query } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';
import { listResponse } from '../../../lib/http/paging.js';

export const describe: RouteDoc = { summary: 'List projects', query: ProjectQuery, response: [Project] };
export default (c: Ctx) =>
  listResponse(
    c,
    () => c.var.services.projects.list(),
    query(c, ProjectQuery),
    (p) => p.createdAt,
  );
