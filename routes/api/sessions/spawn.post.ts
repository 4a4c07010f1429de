import type { Ctx } from '../../../lib/app.js';
import { parseSpawnRequest } from '../../../lib/spawn.js';
import { readBody } from '../../../lib/validation.js';

export default async (c: Ctx) => {
  const { db, spawner } = c.var.services;
  return c.json(await spawner.spawn(parseSpawnRequest(await readBody(c), db)), 201);
};
