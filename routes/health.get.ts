import type { Ctx } from '../lib/app.js';
import { Health } from '../lib/entities.js';
import type { RouteDoc } from '../lib/openapi.js';

export const describe: RouteDoc = { summary: 'Liveness (open even when the server has a token)', response: Health };
export default (c: Ctx) => c.json({ status: 'ok', timestamp: Date.now(), uptime: process.uptime() });
