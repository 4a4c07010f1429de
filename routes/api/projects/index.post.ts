import type { Ctx } from '../../../lib/app.js';
import { CreateProject } from '../../../lib/schemas.js';
import { body } from '../../../lib/validation.js';
import { Project } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = { summary: 'Create a project', body: CreateProject, response: Project, status: 201 };
export default async (c: Ctx) => c.json(await c.var.services.projects.create(await body(c, CreateProject)), 201);
