// The socket hub of runners: one WebSocket per connected runner, by host name; frames to it and requests it answers.
import type { WSContext, WSEvents } from 'hono/ws';
import { type Actor, actAs } from '../domain/actor.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import { decode, NAME_TAKEN, RunnerMessage, type ServerMessage, WRONG_HOST } from '../runner-protocol.js';

const REPLY_TIMEOUT_MS = 10_000;

interface Conn {
  ws: WSContext;
  name?: string;
  /** The only name this connection may claim (it presented a runner token for that host). */
  only?: string;
}
export type Hello = Extract<RunnerMessage, { type: 'hello' }>;
/** What a runner reports after its hello, other than replies (which the hub matches to its requests). */
export type RunnerReport = Exclude<RunnerMessage, { type: 'hello' | 'reply' }>;
type Reply = Extract<RunnerMessage, { type: 'reply' }>;
/** A server message that the runner answers with a `reply` of the same `id`. */
type Request = Extract<ServerMessage, { id: number }>;
type Unnumbered<M> = M extends unknown ? Omit<M, 'id'> : never;

/** The actor of what a runner reports: the runner, by its host name once it said hello. */
const runnerActor = (conn: Partial<Conn>): Actor => {
  const name = conn.name ?? conn.only;
  return name === undefined ? { kind: 'runner' } : { kind: 'runner', name };
};

export const hostOffline = (name: string) => new ApiError(503, 'HOST_OFFLINE', `Host ${name} is offline`, { host: name });

/** What the hub tells its owner about runners. */
export interface HubEvents {
  /** A runner claimed its name (the hub holds its connection from now on). */
  hello(name: string, hello: Hello): Promise<void>;
  report(name: string, message: RunnerReport): Promise<unknown> | undefined;
  /** The runner's connection ended; its pending requests were rejected. */
  disconnected(name: string): void;
}

export class RunnerHub {
  readonly #conns = new Map<string, Conn>();
  readonly #replies = new Map<number, { host: string; resolve: (m: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;

  constructor(
    private readonly events: HubEvents,
    private readonly log: Logger,
  ) {}

  isOnline = (name: string) => this.#conns.has(name);

  /** Handlers of one runner WebSocket (`/api/hosts/connect`); `only`: the one host name it may connect as. */
  socket(only?: string): WSEvents {
    const conn: Partial<Conn> = { only };
    return {
      onOpen: (_e, ws) => void (conn.ws = ws),
      // What a runner reports is recorded as done by that runner (§23), whichever token it connected with.
      onMessage: (event, ws) =>
        void actAs(runnerActor(conn), () => this.#fromRunner(conn as Conn, ws, event.data)).catch((error) =>
          this.log.error('Runner message failed', error),
        ),
      onClose: () => actAs(runnerActor(conn), () => this.#disconnected(conn as Conn)),
      onError: () => actAs(runnerActor(conn), () => this.#disconnected(conn as Conn)),
    };
  }

  /** Sends to the runner of `name`; false when it is not connected. */
  send(name: string, message: ServerMessage): boolean {
    const conn = this.#conns.get(name);
    if (!conn) return false;
    conn.ws.send(JSON.stringify(message));
    return true;
  }

  /** Sends a numbered request; resolves with the runner's `ok` reply, rejects on its error, its leaving or silence. */
  request<T>(host: string, request: Unnumbered<Request>, timeoutMs = REPLY_TIMEOUT_MS): Promise<T> {
    const message = { ...request, id: this.#nextId++ } as Request;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replies.delete(message.id);
        reject(new ApiError(503, 'HOST_OFFLINE', `Host ${host} did not answer`, { host }));
      }, timeoutMs);
      timer.unref();
      this.#replies.set(message.id, { host, resolve: resolve as (m: Reply) => void, reject, timer });
      if (!this.send(host, message)) {
        clearTimeout(timer);
        this.#replies.delete(message.id);
        reject(hostOffline(host));
      }
    });
  }

  close() {
    for (const { ws } of this.#conns.values()) ws.close(1001, 'Server shutting down');
    for (const [, reply] of this.#replies) clearTimeout(reply.timer);
  }

  async #fromRunner(conn: Conn, ws: WSContext, frame: unknown) {
    conn.ws = ws;
    const message = decode(RunnerMessage, frame);
    if (!message) return;
    if (message.type === 'hello') return this.#hello(conn, message);
    const name = conn.name;
    if (!name || this.#conns.get(name) !== conn) return;
    if (message.type !== 'reply') return this.events.report(name, message);
    const pending = this.#replies.get(message.id);
    // One runner cannot answer a request sent to another.
    if (!pending || pending.host !== name) return;
    this.#replies.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message);
    // A refusal's contract code and details (§20) travel with the error.
    else
      pending.reject(
        Object.assign(new Error(message.error ?? 'The runner could not do it'), { code: message.code, details: message.details }),
      );
  }

  async #hello(conn: Conn, hello: Hello) {
    if (conn.name) return;
    const { name } = hello;
    if (conn.only !== undefined && name !== conn.only) {
      conn.ws.close(WRONG_HOST, `This runner token is for host "${conn.only}", not "${name}"`);
      return;
    }
    const held = this.#conns.get(name);
    if (held && held !== conn) {
      conn.ws.close(NAME_TAKEN, `Another runner is already connected as "${name}"`);
      return;
    }
    conn.name = name;
    this.#conns.set(name, conn);
    await actAs({ kind: 'runner', name }, () => this.events.hello(name, hello));
  }

  #disconnected(conn: Conn) {
    const { name } = conn;
    if (!name || this.#conns.get(name) !== conn) return;
    this.#conns.delete(name);
    for (const [id, reply] of this.#replies) {
      if (reply.host !== name) continue;
      this.#replies.delete(id);
      clearTimeout(reply.timer);
      reply.reject(hostOffline(name));
    }
    this.events.disconnected(name);
  }
}
