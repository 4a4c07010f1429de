import { Health } from '../lib/domain/entities.js';
import type { Ctx } from '../lib/http/app.js';
import type { RouteDoc } from '../lib/http/openapi.js';

export const describe: RouteDoc = { summary: 'Liveness (open even when the server has a token)', response: Health };
export default (c: Ctx) => c.json({ status: 'ok', timestamp: Date.now(), uptime: process.uptime() });
