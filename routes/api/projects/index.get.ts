import { Project } from '../../../lib/domain/entities.js';
import { ProjectQuery } from '../../../lib/domain/requests.js';
import { scopeOf } from '../../../lib/http/access.js';
import type { Ctx } from '../../../lib/http/app.js';
import { query } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';
import { listResponse } from '../../../lib/http/paging.js';

export const describe: RouteDoc = { summary: 'List projects', query: ProjectQuery, response: [Project] };
export default (c: Ctx) =>
  listResponse(
    c,
    // A session token sees its own project only (§15.6).
    () => c.var.services.projects.list().filter((p) => scopeOf(c) === undefined || p.id === scopeOf(c)),
    query(c, ProjectQuery),
    (p) => p.createdAt,
  );
