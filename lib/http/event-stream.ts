// The live event stream over WebSocket and SSE, with replay from the event log (§4, §17).
import { streamSSE } from 'hono/streaming';
import type { WSContext, WSEvents } from 'hono/ws';
import { type EventFilter, type EventHub, MAX_BUFFERED_BYTES, type Subscriber } from '../domain/events.js';
import { ApiError } from '../errors.js';
import { isId } from '../ids.js';
import type { Logger } from '../log.js';
import { callerOf, closeOnRevoke, maySeeSecrets, scoped } from './access.js';
import type { Ctx } from './context.js';

const invalid = (path: string, message: string) => new ApiError(400, 'VALIDATION_ERROR', message, { issues: [{ path, message }] });

/** Parses a `seq` given by a client (`since`, `Last-Event-ID`): a non-negative integer. */
export function parseSeq(value: string | undefined, path: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw invalid(path, `${path} must be a non-negative integer`);
  return Number(value);
}

/** The stream parameters shared by the WebSocket, SSE and `GET /api/events` (§17). */
export function streamQuery(c: Ctx): { since: number | undefined; filter: EventFilter } {
  const asked = c.req.query('projectId');
  if (asked !== undefined && !isId(asked)) throw invalid('projectId', 'projectId is not a valid ID');
  // A session token sees its own project's events only (§15.6).
  const { projectId } = scoped(c, { projectId: asked });
  const sessionId = c.get('tokenSession') ?? c.req.query('sessionId');
  if (sessionId !== undefined && !isId(sessionId)) throw invalid('sessionId', 'sessionId is not a valid ID');
  const messages = c.req.query('messages');
  if (messages !== undefined && messages !== 'only') throw invalid('messages', 'messages must be "only"');
  if (messages && !sessionId) throw invalid('messages', 'messages=only needs a sessionId (or a session token)');
  // A reconnecting EventSource sends the URL it first opened (its `since` included) with the last id it got: that
  // id is where the client is now, so it wins, or every reconnect would replay what the client already has.
  const since = parseSeq(c.req.header('last-event-id') || c.req.query('since'), 'since');
  return { since, filter: { projectId, sessionId, messagesOnly: messages === 'only', secrets: maySeeSecrets(callerOf(c)) } };
}

/**
 * The event WebSocket (§4, §17) on any path: replay from `since`, filters, ping/pong. A client that lets more than
 * 8 MiB pile up unread is cut off: it reconnects with `since` and loses nothing.
 */
export function eventSocket(c: Ctx, hub: EventHub, log: Logger): WSEvents {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return {};
  const { since, filter } = streamQuery(c);
  let client: Subscriber | undefined;
  let untrack = () => {};
  const drop = () => {
    untrack();
    if (client) hub.unsubscribe(client);
  };
  return {
    onOpen: (_event, ws) => {
      client = socketSubscriber(ws, filter, log, drop);
      untrack = closeOnRevoke(c, () => {
        drop();
        ws.close(1008, 'Token revoked');
      });
      void hub.subscribe(client, since).catch((error) => {
        log.error('replaying events to a WebSocket client failed', error);
        ws.close(1011, 'Replay failed');
      });
    },
    onMessage: (event) => client && hub.receive(client, event.data),
    onClose: drop,
    onError: drop,
  };
}

/** The parts of a `ws` socket (hono's WSContext `raw`) used to send shared frames in one corked write. */
interface RawSocket {
  bufferedAmount?: number;
  terminate?: () => void;
  send?: (data: Buffer, options: { binary: boolean }) => void;
  _socket?: { cork(): void; uncork(): void };
}

function socketSubscriber(ws: WSContext, filter: EventFilter, log: Logger, drop: () => void): Subscriber {
  const socket = ws.raw as RawSocket | undefined;
  const guarded = (write: () => void) => {
    if (ws.readyState !== 1) return;
    try {
      write();
    } catch (error) {
      log.warn(`dropping a WebSocket client that failed a send: ${String(error)}`);
      return drop();
    }
    if ((socket?.bufferedAmount ?? 0) > MAX_BUFFERED_BYTES) {
      log.warn('dropping a WebSocket client that stopped reading (over 8 MiB of events waiting)');
      drop();
      socket?.terminate?.();
    }
  };
  return {
    filter,
    get readyState() {
      return ws.readyState;
    },
    send: (text) => guarded(() => ws.send(text)),
    sendMany: (events) =>
      guarded(() => {
        if (!socket?.send) return events.forEach((e) => ws.send(e.text));
        socket._socket?.cork();
        try {
          for (const event of events) socket.send((event.frame ??= Buffer.from(event.text)), { binary: false });
        } finally {
          socket._socket?.uncork();
        }
      }),
  };
}

const SSE_KEEPALIVE_MS = 15_000;

/**
 * `GET /api/events/stream`: the event stream as Server-Sent Events (§17), resuming after `Last-Event-ID` or
 * `since` exactly like the WebSocket; a comment line every 15 s keeps proxies from closing it.
 */
export function eventStream(c: Ctx) {
  const { since, filter } = streamQuery(c);
  const { hub } = c.var.services;
  return streamSSE(c, async (stream) => {
    // Writes go one after another, each once the last has drained to the socket (§24.4); what waits is counted,
    // and a reader with more than 8 MiB waiting is cut off: it resumes with Last-Event-ID and loses nothing.
    let waiting = 0;
    let written = Promise.resolve();
    const client: Subscriber = {
      filter,
      readyState: 1,
      close: () => void stream.close(),
      send: (text, event) => {
        if (stream.closed || stream.aborted) return;
        waiting += text.length;
        if (waiting > MAX_BUFFERED_BYTES) {
          c.var.services.log.warn('dropping an SSE client that stopped reading (over 8 MiB of events waiting)');
          hub.unsubscribe(client);
          stream.abort();
          // The response is stuck behind the unread bytes: only ending the socket frees them and tells the reader.
          return void (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing?.destroy();
        }
        const message = event ? { id: String(event.seq), event: event.type, data: text } : { event: 'resync', data: text };
        written = written
          .then(() => stream.writeSSE(message))
          .then(
            () => void (waiting -= text.length),
            () => undefined,
          );
      },
    };
    const keepalive = setInterval(() => void stream.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    const closed = new Promise<void>((resolve) => stream.onAbort(resolve));
    // A revoked token's stream ends at once (§23): the reader sees the end of the response.
    const untrack = closeOnRevoke(c, () => {
      hub.unsubscribe(client);
      stream.abort();
      (c.env as { outgoing?: { end(): void } } | undefined)?.outgoing?.end();
    });
    await hub.subscribe(client, since);
    await closed;
    untrack();
    clearInterval(keepalive);
    hub.unsubscribe(client);
  });
}
