import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import { type EventLog, type LoggedEvent, SEGMENT_EVENTS, sessionsOf } from '../storage/event-log.js';
import type { Actor } from './actor.js';
import type { Host, Message, Project, QueueItem, QueueState, Session, TaskView, Template, TokenView } from './types.js';

/** What `session:spawn` carries (contract §6.7). */
export interface SpawnEvent {
  session: Session;
  command: string;
  cwd: string;
  envVars: Record<string, string>;
  manifest: unknown;
  projectId: string;
  taskIds: string[];
  spawnSource: 'ui' | 'session';
  parentSessionId: string | null;
  /** The runner and agent preset of the launch (§15.3); null when a UI opens the terminal. */
  host: string | null;
  agent: string | null;
  _isSpawnCreated: true;
}

/** Why a claim ended (contract §18.3). */
export type ClaimReleaseReason = 'expired' | 'session_ended' | 'released';

type QueueItemEvent = { sessionId: string; taskId: string; item: QueueItem };

/** Every event the server broadcasts, with its `data` (contract §4.4). */
export interface EventMap {
  'project:created': Project;
  'project:updated': Project;
  'project:deleted': { id: string };
  'task:created': TaskView;
  'task:updated': TaskView;
  'task:deleted': { id: string };
  'task:ready': TaskView;
  'task:claim_released': { taskId: string; sessionId: string; reason: ClaimReleaseReason };
  'session:created': Session;
  'session:updated': Session;
  'session:deleted': { id: string };
  'task:session_added': { taskId: string; sessionId: string };
  'task:session_removed': { taskId: string; sessionId: string };
  'session:task_added': { sessionId: string; taskId: string };
  'session:task_removed': { sessionId: string; taskId: string };
  'session:spawn': SpawnEvent;
  'session:spawn_request': SpawnEvent & { skillIds: string[]; name: string };
  'subtask:created': { taskId: string; subtask: TaskView };
  'subtask:updated': { taskId: string; subtask: TaskView };
  'subtask:deleted': { taskId: string; subtaskId: string };
  'queue:created': { sessionId: string; queue: QueueState };
  'queue:updated': { sessionId: string; queue: QueueState };
  'queue:item_started': QueueItemEvent;
  'queue:item_completed': QueueItemEvent;
  'queue:item_failed': QueueItemEvent & { reason?: string };
  'queue:item_skipped': QueueItemEvent;
  'queue:item_pushed': QueueItemEvent;
  'template:created': Template;
  'template:updated': Template;
  'template:deleted': { id: string };
  'message:created': Message;
  'message:delivered': Message;
  'message:read': Message;
  'message:failed': Message;
  'message:expired': Message;
  /** `from` and `to` let both ends' `messages=only` streams see it (§24.1). */
  'message:deleted': { id: string; from: string; to: string };
  'session:message_sent': { sessionId: string; message: Message };
  'session:message_received': { sessionId: string; message: Message };
  /** §21: the session's attention changed (after its `session:updated`). */
  'session:attention': { sessionId: string; attention: NonNullable<Session['attention']> };
  'host:online': Host;
  'host:offline': Host;
  'host:deleted': { name: string };
  /** §23: data without the secret. */
  'token:created': TokenView;
  'token:deleted': { id: string };
}

export type EventName = keyof EventMap;
export type DomainEvent = { [K in EventName]: { type: K; data: EventMap[K] } }[EventName];

/** An event as a mutation emitted it, before it has a `seq`. */
export type Emitted = DomainEvent & { projectId: string | undefined; timestamp: number; actor: Actor };

/** An event ready to send: its live envelope (`text`) and the redacted line the log keeps (`line`). */
export interface Published extends LoggedEvent {
  text: string;
  /** `text` as bytes, made once and shared by every socket. */
  frame?: Buffer;
}

type Lookup = (kind: any, id: string) => { projectId?: string } | undefined;

/**
 * The project an event concerns (§17), or undefined for global events (`template:*`, `host:*`). Looked up through
 * the emitting transaction for events whose data names only a task or session.
 */
export function projectOf(type: string, data: any, get: Lookup): string | undefined {
  const scope = type.slice(0, type.indexOf(':'));
  if (scope === 'template' || scope === 'host' || scope === 'token') return undefined;
  if (scope === 'project') return data.id;
  const direct = data.projectId ?? data.subtask?.projectId ?? data.message?.projectId ?? data.session?.projectId;
  if (typeof direct === 'string') return direct;
  if (scope === 'task' || scope === 'subtask') return get('tasks', data.taskId ?? data.id)?.projectId;
  if (scope === 'session' || scope === 'queue') return get('sessions', data.sessionId ?? data.id)?.projectId;
  if (scope === 'message') return get('messages', data.id)?.projectId;
  return undefined;
}

/** Session tokens travel in live spawn events (a UI opening the terminal needs one) but never into the log (§15.6). */
function redact(data: any): unknown {
  const env = data?.envVars;
  if (!env || typeof env.MAESTRO_SESSION_TOKEN !== 'string') return data;
  return { ...data, envVars: { ...env, MAESTRO_SESSION_TOKEN: '<redacted>' } };
}

const envelope = (type: string, data: unknown, timestamp: number, seq: number, projectId: string | undefined, actor: Actor) =>
  JSON.stringify({ type, event: type, data, timestamp, seq, projectId, actor });

/** Which events a client wants (§17): one project's (plus global ones), or one session's messages only. */
export interface EventFilter {
  projectId?: string;
  sessionId?: string;
  messagesOnly?: boolean;
  /** Whether the client may see raw secrets (a person): others get live spawn events redacted as the log keeps them. */
  secrets?: boolean;
}

export function matches(filter: EventFilter, event: LoggedEvent): boolean {
  if (filter.messagesOnly) return filter.sessionId !== undefined && (event.sessions?.includes(filter.sessionId) ?? false);
  return !filter.projectId || event.projectId === undefined || event.projectId === filter.projectId;
}

/** A connected client: a WebSocket or an SSE stream. */
export interface Subscriber {
  readonly filter: EventFilter;
  /** Sends an event (with its `seq`) or a frame outside the stream (resync, pong). */
  send(text: string, event?: LoggedEvent): void;
  /** Sends a batch of live events, in one write where the transport allows (a mutation's events, corked). */
  sendMany?(events: Published[]): void;
  /** For `/ws-status`: the socket's state (1 = open). */
  readonly readyState: number;
  /** Ends the connection (server shutdown); WebSockets are closed by the server itself. */
  close?(): void;
}

/** Events read per step of a replay: a whole segment, so an old replay parses each segment file once. */
const REPLAY_PAGE = SEGMENT_EVENTS;
/** A client that lets this much pile up unread is cut off: it reconnects with `since` and catches up. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * Owns the set of connected clients. Each event is serialised once and the same string is sent to every client
 * whose filter takes it, in `seq` order. A client that asks for `since` gets the logged events after it first, then
 * the live ones, with no gap and no repeat: live events that arrive while it is being replayed wait in its queue.
 */
export class EventHub {
  readonly clients = new Set<Subscriber>();
  readonly #replaying = new Map<Subscriber, [string, LoggedEvent | undefined][]>();
  #log: EventLog | undefined;
  #latest = 0;

  constructor(private readonly log: Logger) {}

  /** Continues `seq` from the event log (§13.6). */
  attach(eventLog: EventLog): void {
    this.#log = eventLog;
    this.#latest = eventLog.latestSeq;
  }

  /** The `seq` of the newest broadcast event. */
  get latestSeq(): number {
    return this.#latest;
  }

  get oldestSeq(): number {
    return this.#log?.oldestSeq ?? this.#latest + 1;
  }

  /** Numbers a batch's events after `lastSeq` and serialises each once (twice when a secret must be redacted). */
  prepare(events: readonly Emitted[], lastSeq: number): Published[] {
    return events.map(({ type, data, projectId, timestamp, actor }, i) => {
      const seq = lastSeq + 1 + i;
      const text = envelope(type, data, timestamp, seq, projectId, actor);
      const redacted = redact(data);
      const line = redacted === data ? text : envelope(type, redacted, timestamp, seq, projectId, actor);
      return { seq, type, text, line, projectId, sessions: sessionsOf(type, data) };
    });
  }

  /**
   * Sends a batch's events to every client whose filter takes them, before the mutations are answered (a client
   * that got the HTTP answer has been sent its events). Each client gets the batch in one call, so a socket writes
   * it in one corked write of frames shared by every socket.
   */
  publish(events: readonly Published[]): void {
    if (!events.length) return;
    this.#latest = events.at(-1)!.seq;
    this.log.debug(`broadcast #${events[0]!.seq}…#${this.#latest} to ${this.clients.size} client(s)`);
    for (const client of this.clients) {
      let wanted = events.filter((event) => matches(client.filter, event));
      if (!wanted.length) continue;
      // Only a person sees a live spawn event's token (§15.6); everyone else gets the line the log keeps.
      if (!client.filter.secrets && wanted.some((e) => e.line !== e.text)) {
        wanted = wanted.map((e) => (e.line === e.text ? e : { ...e, text: e.line, frame: undefined }));
      }
      const queue = this.#replaying.get(client);
      if (queue) queue.push(...wanted.map((event): [string, LoggedEvent] => [event.text, event]));
      else if (client.sendMany) client.sendMany(wanted);
      else for (const event of wanted) client.send(event.text, event);
    }
  }

  /**
   * Adds a client. With `since`, replays the logged events after it first (§17); a `since` the log no longer
   * holds, or one from the future, gets a `resync` frame instead.
   */
  async subscribe(client: Subscriber, since?: number): Promise<void> {
    this.clients.add(client);
    if (since === undefined) return;
    if (!this.#holds(since)) {
      client.send(JSON.stringify({ type: 'resync', oldestSeq: this.oldestSeq, latestSeq: this.#latest }));
      return;
    }
    const queue: [string, LoggedEvent | undefined][] = [];
    this.#replaying.set(client, queue);
    const upTo = this.#latest;
    try {
      for (let after = since; after < upTo; ) {
        const page = await this.#log!.read(after, REPLAY_PAGE, (e) => e.seq <= upTo);
        if (!page.length) break;
        for (const event of page) if (matches(client.filter, event)) client.send(event.line, event);
        after = page.at(-1)!.seq;
      }
    } catch (error) {
      // A replay that cannot read the log must not look complete: the client refetches its state instead (§17).
      this.log.error(`Replay after seq ${since} failed: sending resync`, error);
      client.send(JSON.stringify({ type: 'resync', oldestSeq: this.oldestSeq, latestSeq: this.#latest }));
    } finally {
      this.#replaying.delete(client);
      for (const [text, event] of queue) client.send(text, event);
    }
  }

  /** The logged events after `since` that pass `filter`, oldest first (`GET /api/events`, §17). */
  async read(since: number | undefined, limit: number, filter: EventFilter) {
    const range = { oldestSeq: this.oldestSeq, latestSeq: this.#latest };
    const from = since ?? range.oldestSeq - 1;
    if (!this.#holds(from)) {
      throw new ApiError(410, 'EVENTS_EXPIRED', 'The event log no longer holds events after that seq: refetch the state', range);
    }
    const upTo = this.#latest;
    const events = await this.#log!.read(from, limit, (e) => e.seq <= upTo && matches(filter, e));
    return { events: events.map((e) => JSON.parse(e.line) as unknown), ...range };
  }

  /** Whether the log holds every event after `since` (older than its oldest or past its newest: it does not). */
  #holds(since: number): boolean {
    return this.#log !== undefined && since >= this.oldestSeq - 1 && since <= this.#latest;
  }

  unsubscribe(client: Subscriber): void {
    this.clients.delete(client);
    this.#replaying.delete(client);
  }

  /** Handles a message from a client: only `{ "type": "ping" }` means something; anything else is ignored. */
  receive(client: Subscriber, raw: unknown): void {
    if (typeof raw !== 'string' || raw.length > 1024) return;
    try {
      const message: unknown = JSON.parse(raw);
      if (message && typeof message === 'object' && (message as { type?: unknown }).type === 'ping') {
        this.#deliver(client, JSON.stringify({ type: 'pong', timestamp: Date.now() }));
      }
    } catch {
      // Garbage from a client is ignored by contract (§4.3).
    }
  }

  /** Sends now, or after the client's replay when one is running (a pong then fences the replay too). */
  #deliver(client: Subscriber, text: string, event?: LoggedEvent): void {
    const queue = this.#replaying.get(client);
    if (queue) queue.push([text, event]);
    else client.send(text, event);
  }
}
