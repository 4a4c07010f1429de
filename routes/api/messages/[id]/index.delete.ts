import type { Ctx } from '../../../../lib/app.js';
import { callerSession } from '../../../../lib/caller.js';

export default async (c: Ctx) => c.json(await c.var.services.messages.remove(c.req.param('id')!, callerSession(c)));
