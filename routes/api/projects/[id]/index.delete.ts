import { Deleted } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Delete a project (refused while tasks or sessions reference it)',
  response: Deleted,
  errors: { 400: 'PROJECT_HAS_DEPENDENCIES', 404: 'PROJECT_NOT_FOUND' },
};
export default async (c: Ctx) => c.json(await c.var.services.projects.remove(c.req.param('id')!));
