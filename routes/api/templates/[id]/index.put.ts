import { Template } from '../../../../lib/domain/entities.js';
import { UpdateTemplate } from '../../../../lib/domain/requests.js';
import type { Ctx } from '../../../../lib/http/app.js';
import { body } from '../../../../lib/http/input.js';
import type { RouteDoc } from '../../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: "Update a template's name or content",
  body: UpdateTemplate,
  response: Template,
  errors: { 404: 'NOT_FOUND' },
};
export default async (c: Ctx) => {
  const { templates } = c.var.services;
  templates.get(c.req.param('id')!);
  return c.json(await templates.update(c.req.param('id')!, await body(c, UpdateTemplate)));
};
