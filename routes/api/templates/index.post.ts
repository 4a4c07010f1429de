import type { Ctx } from '../../../lib/app.js';
import { CreateTemplate } from '../../../lib/schemas.js';
import { body } from '../../../lib/validation.js';

export default async (c: Ctx) => c.json(await c.var.services.templates.create(await body(c, CreateTemplate)), 201);
