import { EventsQuery } from '../../../lib/domain/requests.js';
import type { Ctx } from '../../../lib/http/app.js';
import { eventStream } from '../../../lib/http/event-stream.js';
import type { RouteDoc } from '../../../lib/http/openapi.js';

export const describe: RouteDoc = {
  summary: 'Follow the events as Server-Sent Events',
  description:
    'text/event-stream: `id: <seq>`, `event: <type>`, `data: <envelope>`. Resumes after `Last-Event-ID` or `since` ' +
    'like the WebSocket (an `event: resync` when the log no longer holds them); a comment line every 15 s.',
  query: EventsQuery,
};

export default (c: Ctx) => eventStream(c);
