import type { Ctx } from '../../../../lib/app.js';
import { UpdateTemplate } from '../../../../lib/schemas.js';
import { body } from '../../../../lib/validation.js';

export default async (c: Ctx) => {
  const { templates } = c.var.services;
  templates.get(c.req.param('id')!);
  return c.json(await templates.update(c.req.param('id')!, await body(c, UpdateTemplate)));
};
