// The transport: the HTTP listener and the WebSocket upgrade, in one file.
import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { createNodeWebSocket } from '@hono/node-ws';
import type { Hono } from 'hono';
import type { Config } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { MAX_RUNNER_FRAME_BYTES } from '../runner-protocol.js';
import { createServices, type Services } from '../services.js';
import { type AppEnv, createApp } from './app.js';
import { MAX_BODY_BYTES } from './body-limit.js';

/** A running server. All transport code (HTTP listener, WebSocket upgrade) lives in this file. */
export interface RunningServer {
  url: string;
  port: number;
  services: Services;
  /** Closes every WebSocket, then the listener; resolves when the listener has closed. Safe to call twice. */
  close(): Promise<void>;
}

const HEARTBEAT_MS = 30_000;

/** Makes the status line node-ws ends a refused upgrade with carry `body` (the contract's JSON error) too. */
function withBody(socket: Socket, status: number, body: string) {
  const end = socket.end.bind(socket);
  socket.end = (() =>
    end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )) as Socket['end'];
}

// @hono/node-ws reports a socket error (a client's oversized or malformed frame) with `new ErrorEvent(...)`, a global
// only from Node 23 on: without it, Node 20 logs a ReferenceError stack instead of handling the error.
(globalThis as { ErrorEvent?: unknown }).ErrorEvent ??= class ErrorEvent extends Event {
  readonly error: unknown;
  readonly message: string;
  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error;
    this.message = init.message ?? (init.error instanceof Error ? init.error.message : '');
  }
};

/** Loads storage, builds the app and listens on `config.host:config.port` (port 0 picks a free one). */
export async function startServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const services = await createServices(config, log);
  // node-ws wants the app before the app (which needs node-ws's upgrade helper) exists: hand it a forwarder. It asks
  // only for upgrades, and answers a refused one with a bare status line: the refusal keeps its error body (§1.1), so
  // a client learns why (a role, a revoked token), not only that.
  let app: Hono<AppEnv> | undefined;
  const forward = {
    request: async (...args: Parameters<Hono['request']>) => {
      const res = await app!.request(...args);
      const socket = (args[2] as { incoming?: IncomingMessage } | undefined)?.incoming?.socket;
      if (socket && res.status >= 400) withBody(socket, res.status, await res.text());
      return res;
    },
  } as unknown as Hono;
  const { injectWebSocket, upgradeWebSocket, wss } = createNodeWebSocket({ app: forward });
  // A client message larger than an HTTP body closes that one connection instead of growing memory; a runner's answers
  // (a diff, a terminal snapshot) are larger, and refusing one would drop the runner. ws reads the limit as it
  // completes an upgrade, which it does at once (no verifyClient), so it is set per upgrade.
  const options = wss.options as { maxPayload?: number };
  const handleUpgrade = wss.handleUpgrade.bind(wss);
  wss.handleUpgrade = (request, socket, head, done) => {
    const runner = new URL(request.url ?? '/', 'http://localhost').pathname === '/api/hosts/connect';
    options.maxPayload = runner ? MAX_RUNNER_FRAME_BYTES : MAX_BODY_BYTES;
    handleUpgrade(request, socket, head, done);
  };
  ({ app } = await createApp(services, upgradeWebSocket));
  const { fetch } = app;

  const server: ServerType = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch, hostname: config.host, port: config.port }, () => resolve(s));
    s.once('error', reject);
  }).catch(async (error) => {
    // The store is open (its lock taken, its journal started): a server that cannot listen (a busy port) closes it as
    // a stop does, or the next start finds a stale lock, a temporary file and a journal to replay, as after a crash.
    for (const stop of services.onClose) await stop();
    throw error;
  });
  server.on('error', (error) => log.error('HTTP server error', error));
  // Every connection, WebSocket upgrades in progress included: what is still open once the services closed is ended.
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  injectWebSocket(server);

  // Drop connections that stopped answering pings, so dead clients do not pile up.
  const alive = new WeakSet<object>();
  const socketOf = new WeakMap<object, Socket>();
  wss.on('connection', (ws, request) => {
    socketOf.set(ws, request.socket);
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
  });
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) ws.terminate();
      else {
        alive.delete(ws);
        ws.ping();
      }
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  config.serverUrl ??= `http://localhost:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    services,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        clearInterval(heartbeat);
        for (const ws of wss.clients) ws.close(1001, 'Server shutting down');
        // SSE streams are plain responses that never end by themselves: end them, or close() waits for them.
        for (const client of services.hub.clients) client.close?.();
        services.hub.clients.clear();
        wss.close();
        // In order: what stops last (the data store) may still be written to by what stops first.
        services.onClose
          .reduce<Promise<unknown>>((done, stop) => done.then(stop), Promise.resolve())
          .then(() => {
            server.close((error) => (error ? reject(error) : resolve()));
            // A request or a WebSocket upgrade that came in while the services closed (a client reconnecting at once)
            // can no longer be served, and close() would wait on it for good: end it. The WebSockets closed above
            // finish their closing handshake (their clients see 1001, not a dropped connection).
            const closing = new Set([...wss.clients].map((ws) => socketOf.get(ws)));
            for (const socket of connections) if (!closing.has(socket)) socket.destroy();
          })
          .catch(reject);
        // Keep-alive connections would hold close() open until they time out.
        (server as Server).closeIdleConnections();
      })),
  };
}
