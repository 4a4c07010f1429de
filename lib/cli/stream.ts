// The event stream for the CLI: one WebSocket that resumes from its last `seq` after a drop.
import WebSocket from 'ws';
import { refusal, type StreamRefused } from '../ws-refusal.js';

/** An event envelope as the server sends it (§4.2, §17). */
export interface Envelope {
  type: string;
  data: any;
  timestamp: number;
  seq: number;
  projectId?: string;
}

export interface FollowOptions {
  /** The server's base URL (http or https). */
  baseUrl: string;
  token?: string;
  /** Resume after this `seq`; absent: only events from now on. */
  since?: number;
  query?: Record<string, string | undefined>;
  onEvent(event: Envelope): void;
  /**
   * The log cannot continue after `since` (the seq asked for): it no longer holds what was missed, or it never reached
   * it (another or a restored server). The caller should refetch what it shows.
   */
  onResync?(info: { oldestSeq: number; latestSeq: number; since: number | undefined }): void;
  /**
   * Told of each lost connection and each reconnect, for a status line; `unreachable` (with the reason) once when the
   * first connection cannot be made, so a watcher started against a server that is down does not sit silent.
   */
  onStatus?(status: 'connected' | 'disconnected' | 'unreachable', reason?: string): void;
}

const MAX_BACKOFF_MS = 10_000;

/** The server refused the stream's token (401) or its role (403): trying again cannot help, so following stops. */
/**
 * Follows the event stream over WebSocket, reconnecting forever with capped backoff. Each reconnect asks for the
 * events after the last `seq` it saw, so nothing is missed and nothing is repeated across a drop (§17).
 * Resolves when `stop()` is called; rejects with `StreamRefused` when the server refuses the token or its role
 * (a revoked token's socket is closed, and its reconnect answered 401), which no retry would change.
 */
export function followEvents(options: FollowOptions): { stop(): void; done: Promise<void> } {
  let last = options.since;
  let stopped = false;
  let socket: WebSocket | undefined;
  let wake: (() => void) | undefined;
  let everOpened = false;
  let toldUnreachable = false;
  const done = (async () => {
    // Starting "from now" still needs a position to resume from if the first connection drops before any event.
    last ??= await latestSeq(options).catch(() => undefined);
    for (let attempt = 0; !stopped; attempt++) {
      // At /ws (§4.1), not at the base URL itself: behind a proxy that serves the server under a path prefix
      // (`location /maestro/`), the bare prefix is not the server's, and the stream never connected.
      const url = new URL(`${options.baseUrl.replace(/^http/, 'ws')}/ws`);
      for (const [key, value] of Object.entries({ ...options.query, since: last?.toString() })) {
        if (value !== undefined) url.searchParams.set(key, value);
      }
      let refused: Promise<StreamRefused> | undefined;
      let reason = 'no answer';
      const opened = await new Promise<boolean>((resolve) => {
        const ws = new WebSocket(url, { headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
        socket = ws;
        ws.on('open', () => {
          attempt = 0;
          everOpened = true;
          options.onStatus?.('connected');
        });
        ws.on('message', (raw) => {
          const message = JSON.parse(String(raw)) as Envelope & { oldestSeq?: number; latestSeq?: number };
          if (message.type === 'resync') {
            const since = last;
            last = message.latestSeq;
            options.onResync?.({ oldestSeq: message.oldestSeq!, latestSeq: message.latestSeq!, since });
          } else if (typeof message.seq === 'number' && (last === undefined || message.seq > last)) {
            last = message.seq;
            options.onEvent(message);
          }
        });
        ws.on('close', () => resolve(true));
        ws.on('error', (error: NodeJS.ErrnoException) => {
          reason = error.code ?? error.message;
          resolve(false);
        });
        // With this listener, ws leaves the refused handshake to us: read the answer, then drop the socket.
        ws.on('unexpected-response', (_req, res) => {
          const fatal = res.statusCode === 401 || res.statusCode === 403;
          if (fatal) refused = refusal(res);
          else res.resume();
          reason = `HTTP ${res.statusCode}`;
          res.once('end', () => {
            ws.terminate();
            resolve(false);
          });
        });
      });
      if (stopped) break;
      if (refused) throw await refused;
      if (opened) options.onStatus?.('disconnected');
      else if (!everOpened && !toldUnreachable) {
        toldUnreachable = true;
        options.onStatus?.('unreachable', reason);
      }
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(attempt, 6));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, delay);
      });
    }
  })();
  return {
    stop() {
      stopped = true;
      socket?.terminate();
      wake?.();
    },
    done,
  };
}

async function latestSeq({ baseUrl, token }: FollowOptions): Promise<number> {
  const res = await fetch(`${baseUrl}/api/events?limit=1`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return ((await res.json()) as { latestSeq: number }).latestSeq;
}
