import type { Ctx } from '../../../lib/app.js';
import { eventStream } from '../../../lib/event-stream.js';
import type { RouteDoc } from '../../../lib/openapi.js';
import { EventsQuery } from '../../../lib/schemas.js';

export const describe: RouteDoc = {
  summary: 'Follow the events as Server-Sent Events',
  description:
    'text/event-stream: `id: <seq>`, `event: <type>`, `data: <envelope>`. Resumes after `Last-Event-ID` or `since` ' +
    'like the WebSocket (an `event: resync` when the log no longer holds them); a comment line every 15 s.',
  query: EventsQuery,
};

export default (c: Ctx) => eventStream(c);
