import type { Ctx } from '../lib/app.js';

export default (c: Ctx) => c.json({ status: 'ok', timestamp: Date.now(), uptime: process.uptime() });
