import type { Ctx } from '../../../lib/app.js';
import { parseSpawnRequest } from '../../../lib/spawn.js';
import { readBody } from '../../../lib/validation.js';
import { SpawnRequest, SpawnResult } from '../../../lib/entities.js';
import type { RouteDoc } from '../../../lib/openapi.js';

export const describe: RouteDoc = {
  summary: 'Spawn an agent session for tasks: its manifest is written and its terminal requested',
  body: SpawnRequest,
  response: SpawnResult,
  status: 201,
  errors: { 404: 'task_not_found, project_not_found or parent_session_not_found' },
};
export default async (c: Ctx) => {
  const { db, spawner } = c.var.services;
  return c.json(await spawner.spawn(parseSpawnRequest(await readBody(c), db)), 201);
};
