import type { Ctx } from '../../../lib/app.js';
import { CreateProject } from '../../../lib/schemas.js';
import { body } from '../../../lib/validation.js';

export default async (c: Ctx) => c.json(await c.var.services.projects.create(await body(c, CreateProject)), 201);
