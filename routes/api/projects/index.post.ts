import { Project } from '../../../lib/domain/entities.js';
import { CreateProject } from '../../../lib/domain/requests.js';
import type { Ctx } from '../../../lib/http/app.js';
import { body } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'Create a project', body: CreateProject, response: Project, status: 201 };
export default async (c: Ctx) => c.json(await c.var.services.projects.create(await body(c, CreateProject)), 201);
