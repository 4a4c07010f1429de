import * as v from 'valibot';
import type { Ctx } from '../../../lib/app.js';
import { streamQuery } from '../../../lib/event-stream.js';
import { query } from '../../../lib/validation.js';

const Limit = v.object({
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'limit must be an integer from 1 to 1000'), v.transform(Number), v.minValue(1, 'limit must be an integer from 1 to 1000'), v.maxValue(1000, 'limit must be an integer from 1 to 1000')), '100'),
});

export default async (c: Ctx) => {
  const { since, filter } = streamQuery(c);
  const { limit } = query(c, v.looseObject(Limit.entries));
  return c.json(await c.var.services.hub.read(since, limit, filter));
};
