import type { Ctx } from '../../../lib/app.js';
import { listResponse } from '../../../lib/paging.js';
import { ProjectQuery } from '../../../lib/schemas.js';
import { query } from '../../../lib/validation.js';

export default (c: Ctx) => listResponse(c, () => c.var.services.projects.list(), query(c, ProjectQuery), (p) => p.createdAt);
