import type { Ctx } from '../../../lib/app.js';
import { CreateSession } from '../../../lib/schemas.js';
import { readBody, parseInput } from '../../../lib/validation.js';

export default async (c: Ctx) => {
  const input = await readBody(c);
  // Legacy clients send one `taskId` instead of `taskIds` (contract §3.4).
  if (input.taskIds === undefined && typeof input.taskId === 'string') input.taskIds = [input.taskId];
  return c.json(await c.var.services.sessions.create(parseInput(CreateSession, input)), 201);
};
