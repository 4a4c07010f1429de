import { SpawnRequest, SpawnResult } from '../../../lib/domain/entities.js';
import { parseSpawnRequest } from '../../../lib/domain/spawn.js';
import type { Ctx } from '../../../lib/http/app.js';
import { readBody } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

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
