import { Health } from '../lib/domain/entities.js';
import { ApiError } from '../lib/errors.js';
import type { Ctx } from '../lib/http/app.js';
import type { RouteDoc } from '../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Liveness (open even when the server has a token)',
  description: 'On PostgreSQL, 503 while this instance cannot read the database (what it serves may be stale).',
  response: Health,
  errors: { 503: 'STORAGE_UNAVAILABLE' },
};

export default (c: Ctx) => {
  const problem = c.var.services.db.engine.unavailable?.();
  if (problem) throw new ApiError(503, 'STORAGE_UNAVAILABLE', problem);
  return c.json({ status: 'ok', timestamp: Date.now(), uptime: process.uptime() });
};
