import type { Ctx } from '../../../lib/app.js';
import { listResponse } from '../../../lib/paging.js';
import { ProjectQuery } from '../../../lib/schemas.js';
import { query } from '../../../lib/validation.js';
import { Project } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'List projects', query: ProjectQuery, response: [Project] };
export default (c: Ctx) => listResponse(c, () => c.var.services.projects.list(), query(c, ProjectQuery), (p) => p.createdAt);
