// The socket hub of runners: one WebSocket per connected runner, by host name; frames to it and requests it answers.
import type { WSContext, WSEvents } from 'hono/ws';
import { type Actor, actAs } from '../domain/actor.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import { BAD_NAME, decode, isHostName, NAME_TAKEN, RunnerMessage, type ServerMessage, WRONG_HOST } from '../runner-protocol.js';
import type { RelayAnswer, RunnerRelay } from '../storage/engine.js';

const REPLY_TIMEOUT_MS = 10_000;

interface Conn {
  ws: WSContext;
  name?: string;
  /** The only name this connection may claim (it presented a runner token for that host). */
  only?: string;
  closed?: boolean;
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
  /** The runner of `name` has connected to another instance. */
  arrived(name: string): void;
}

export class RunnerHub {
  readonly #conns = new Map<string, Conn>();
  readonly #replies = new Map<number, { host: string; resolve: (m: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  /** Other instances watching a session's terminal through this one (their runner's output goes to them). */
  readonly #remoteWatchers = new Map<string, Set<string>>();
  /** When each of those instances last asked to watch (an instance that died is forgotten, unless it asked since). */
  readonly #watcherSince = new Map<string, number>();

  constructor(
    private readonly events: HubEvents,
    private readonly log: Logger,
    /** Several instances on one store (§22.2): names held once across them, frames routed to the holder. */
    private readonly relay?: RunnerRelay,
  ) {
    relay?.serve({
      frame: (host, message, reply, from) => this.#routed(host, message as ServerMessage, reply, from),
      report: this.#remoteReport,
      arrived: (host) => this.events.arrived(host),
      alive: (instances, asOf) => this.#forgetDead(instances, asOf),
    });
  }

  /** Connected to this instance. */
  isHere = (name: string) => this.#conns.has(name);

  /** The sessions whose terminal other instances watch through this one. */
  remotelyWatched = () => [...this.#remoteWatchers.keys()];

  /** Connected here or, on a shared store, to another instance. */
  isOnline = (name: string) => this.#conns.has(name) || (this.relay?.elsewhere(name) ?? false);

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
    if (!conn) {
      if (!this.relay?.elsewhere(name)) return false;
      this.relay.forward(name, message, false).catch((error) => this.log.warn(`Routing to ${name} failed: ${error.message}`));
      return true;
    }
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
      if (!this.#conns.has(host) && this.relay?.elsewhere(host)) {
        this.relay.forward(host, message, true).then(
          (answer) => this.#answered(message.id, answer),
          (error) => this.#answered(message.id, { ok: false, error: error.message, code: 'HOST_OFFLINE', details: { host } }),
        );
      } else if (!this.send(host, message)) {
        clearTimeout(timer);
        this.#replies.delete(message.id);
        reject(hostOffline(host));
      }
    });
  }

  #answered(id: number, answer: RelayAnswer | undefined) {
    const pending = this.#replies.get(id);
    if (!pending || !answer) return;
    this.#replies.delete(id);
    clearTimeout(pending.timer);
    if (answer.ok) pending.resolve(answer.reply as Reply);
    else if (answer.code === 'HOST_OFFLINE') pending.reject(hostOffline(pending.host));
    else pending.reject(Object.assign(new Error(answer.error), { code: answer.code, details: answer.details }));
  }

  /** A frame another instance routed to a runner connected here; its reply goes back to that instance. */
  #routed(host: string, message: ServerMessage, reply: boolean, from: string): Promise<RelayAnswer | undefined> {
    if (message.type === 'watch') {
      const watchers = this.#remoteWatchers.get(message.sessionId) ?? new Set<string>();
      if (message.on) {
        watchers.add(from);
        this.#watcherSince.set(from, Date.now());
      } else watchers.delete(from);
      if (watchers.size) this.#remoteWatchers.set(message.sessionId, watchers);
      else this.#remoteWatchers.delete(message.sessionId);
    }
    if (!reply) {
      this.send(host, message);
      return Promise.resolve(undefined);
    }
    const { id: _, ...request } = message as Request;
    return this.request<Reply>(host, request as Unnumbered<Request>).then(
      (r): RelayAnswer => ({ ok: true, reply: r }),
      (e: { message: string; code?: string; details?: Record<string, unknown> }): RelayAnswer => ({
        ok: false,
        error: e.message,
        code: e.code,
        details: e.details,
      }),
    );
  }

  /** Stops passing terminal output to instances that died: their viewers are gone, and so is anyone to read it. */
  #forgetDead(alive: ReadonlySet<string>, asOf: number) {
    for (const [instance, since] of this.#watcherSince) {
      if (alive.has(instance) || since >= asOf) continue;
      this.#watcherSince.delete(instance);
      for (const [sessionId, watchers] of this.#remoteWatchers) {
        watchers.delete(instance);
        if (!watchers.size) this.#remoteWatchers.delete(sessionId);
      }
    }
  }

  /** Terminal output of a runner on another instance, for viewers here. */
  #remoteReport = (host: string, message: unknown) => {
    const report = decode(RunnerMessage, JSON.stringify(message));
    if (report?.type === 'output') void this.events.report(host, report);
  };

  close() {
    for (const { ws } of this.#conns.values()) ws.close(1001, 'Server shutting down');
    for (const [, reply] of this.#replies) clearTimeout(reply.timer);
  }

  async #fromRunner(conn: Conn, ws: WSContext, frame: unknown) {
    conn.ws = ws;
    const message = decode(RunnerMessage, frame);
    if (!message) return this.#unreadable(conn, frame);
    if (message.type === 'hello') return this.#hello(conn, message);
    const name = conn.name;
    if (!name || this.#conns.get(name) !== conn) return;
    if (message.type === 'output' && this.relay) {
      for (const instance of this.#remoteWatchers.get(message.sessionId) ?? []) {
        this.relay.report(instance, name, message).catch((error) => this.log.warn(`Routing output failed: ${error.message}`));
      }
    }
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

  /**
   * A frame that breaks the protocol is dropped; but when it is a reply to a request of this runner's, that request
   * fails now with the reason rather than waiting out its timeout as if the runner were silent.
   */
  #unreadable(conn: Conn, frame: unknown) {
    let id: unknown;
    try {
      const parsed = JSON.parse(String(frame));
      if (parsed?.type === 'reply') id = parsed.id;
    } catch {
      return;
    }
    const pending = typeof id === 'number' ? this.#replies.get(id) : undefined;
    if (!pending || !conn.name || pending.host !== conn.name) return;
    this.#replies.delete(id as number);
    clearTimeout(pending.timer);
    pending.reject(new ApiError(500, 'INTERNAL_ERROR', `Host ${conn.name} sent an answer that does not follow the runner protocol`));
  }

  async #hello(conn: Conn, hello: Hello) {
    if (conn.name) return;
    const { name } = hello;
    if (!isHostName(name)) {
      conn.ws.close(BAD_NAME, `"${name}" cannot be a host name`);
      return;
    }
    if (conn.only !== undefined && name !== conn.only) {
      conn.ws.close(WRONG_HOST, `This runner token is for host "${conn.only}", not "${name}"`);
      return;
    }
    const held = this.#conns.get(name);
    const taken = () => conn.ws.close(NAME_TAKEN, `Another runner is already connected as "${name}"`);
    if (held && held !== conn) return taken();
    if (this.relay) {
      conn.name = name;
      if (!(await this.relay.claim(name))) {
        conn.name = undefined;
        return taken();
      }
      // The runner left while the name was being claimed.
      if (conn.closed) return this.#release(name);
    }
    conn.name = name;
    this.#conns.set(name, conn);
    try {
      await actAs({ kind: 'runner', name }, () => this.events.hello(name, hello));
    } catch (error) {
      // Not recorded, so not held: the runner hears why and may try again, instead of waiting for a welcome.
      this.#conns.delete(name);
      conn.name = undefined;
      this.#release(name);
      conn.ws.close(1011, `The server could not record host "${name}"`);
      throw error;
    }
  }

  /** Gives up a runner's name across instances; a failure (the database gone) is logged, not thrown at nobody. */
  #release(name: string) {
    this.relay?.release(name).catch((error) => this.log.warn(`Releasing host ${name} failed: ${error.message}`));
  }

  #disconnected(conn: Conn) {
    conn.closed = true;
    const { name } = conn;
    if (!name || this.#conns.get(name) !== conn) return;
    this.#conns.delete(name);
    this.#release(name);
    for (const [id, reply] of this.#replies) {
      if (reply.host !== name) continue;
      this.#replies.delete(id);
      clearTimeout(reply.timer);
      reply.reject(hostOffline(name));
    }
    this.events.disconnected(name);
  }
}
