import type { Ctx } from '../../../../lib/app.js';

export default async (c: Ctx) => {
  const { id, name, description, type, version, instructions } = await c.var.services.skills.get(c.req.param('id')!);
  return c.json({ id, name, description, type, version, instructions });
};
