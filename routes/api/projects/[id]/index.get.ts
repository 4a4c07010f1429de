import { Project } from '../../../../lib/domain/entities.js';
import type { Ctx } from '../../../../lib/http/app.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'Get a project', response: Project, errors: { 404: 'PROJECT_NOT_FOUND' } };
export default (c: Ctx) => c.var.services.reads.respond(c, () => ({ value: c.var.services.projects.get(c.req.param('id')!) }));
