import type { Ctx } from '../../../../lib/app.js';
import { UpdateProject } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';
import { Project } from '../../../../lib/entities.js';
import type { RouteDoc } from '../../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Update a project\'s name, workingDir or description',
  body: UpdateProject,
  response: Project,
  errors: { 404: 'PROJECT_NOT_FOUND' },
};
export default async (c: Ctx) =>
  c.json(await c.var.services.projects.update(c.req.param('id')!, await body(c, UpdateProject)));
