import { Template } from '../../../lib/domain/entities.js';
import { CreateTemplate } from '../../../lib/domain/requests.js';
import type { Ctx } from '../../../lib/http/app.js';
import { body } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Create a template (name, role and content are required)',
  body: CreateTemplate,
  response: Template,
  status: 201,
};
export default async (c: Ctx) => c.json(await c.var.services.templates.create(await body(c, CreateTemplate)), 201);
