import type { Ctx } from '../../../lib/app.js';
import { CreateTemplate } from '../../../lib/schemas.js';
import { body } from '../../../lib/validation.js';
import { Template } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Create a template (name, role and content are required)',
  body: CreateTemplate,
  response: Template,
  status: 201,
};
export default async (c: Ctx) => c.json(await c.var.services.templates.create(await body(c, CreateTemplate)), 201);
