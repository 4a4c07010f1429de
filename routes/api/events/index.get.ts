import * as v from 'valibot';
import { EventPage } from '../../../lib/domain/entities.js';
import { EventsQuery } from '../../../lib/domain/requests.js';
import type { Ctx } from '../../../lib/http/app.js';
import { streamQuery } from '../../../lib/http/event-stream.js';
import { query } from '../../../lib/http/input.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

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
