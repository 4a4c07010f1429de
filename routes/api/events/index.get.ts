import * as v from 'valibot';
import type { Ctx } from '../../../lib/app.js';
import { EventPage } from '../../../lib/entities.js';
import { streamQuery } from '../../../lib/event-stream.js';
import type { RouteDoc } from '../../../lib/openapi.js';
import { EventsQuery } from '../../../lib/schemas.js';
import { query } from '../../../lib/validation.js';

export const describe: RouteDoc = {
  summary: 'Read the event log',
  description: 'The oldest `limit` logged events after `since`; 410 EVENTS_EXPIRED when the log no longer holds them.',
  query: EventsQuery,
  response: EventPage,
  errors: { 400: 'VALIDATION_ERROR', 410: 'EVENTS_EXPIRED' },
};

export default async (c: Ctx) => {
  const { since, filter } = streamQuery(c);
  const { limit } = query(c, v.looseObject(EventsQuery.entries));
  return c.json(await c.var.services.hub.read(since, limit, filter));
};
