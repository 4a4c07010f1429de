import type { Ctx } from '../../../lib/app.js';
import { CreateTask } from '../../../lib/schemas.js';
import { body } from '../../../lib/validation.js';

export default async (c: Ctx) => c.json(await c.var.services.tasks.create(await body(c, CreateTask)), 201);
