import { Project } from '../../../../lib/domain/entities.js';
import { UpdateProject } from '../../../../lib/domain/requests.js';
import { requireMayUpdateProject } from '../../../../lib/http/access.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Update a project's name, workingDir or description",
  body: UpdateProject,
  response: Project,
  errors: { 403: 'FORBIDDEN (a session token changing workingDir or workspace)', 404: 'PROJECT_NOT_FOUND' },
};
export default async (c: Ctx) => {
  const input = await body(c, UpdateProject);
  requireMayUpdateProject(c, input);
  return c.json(await c.var.services.projects.update(c.req.param('id')!, input));
};
