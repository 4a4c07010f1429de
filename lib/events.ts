import type { Logger } from './log.js';
import type { Host, Project, QueueItem, QueueState, Session, TaskView, Template } from './types.js';

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

type QueueItemEvent = { sessionId: string; taskId: string; item: QueueItem };

/** Every event the server broadcasts, with its `data` (contract §4.4). */
export interface EventMap {
  'project:created': Project;
  'project:updated': Project;
  'project:deleted': { id: string };
  'task:created': TaskView;
  'task:updated': TaskView;
  'task:deleted': { id: string };
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
  'host:online': Host;
  'host:offline': Host;
  'host:deleted': { name: string };
}

export type EventName = keyof EventMap;
export type DomainEvent = { [K in EventName]: { type: K; data: EventMap[K] } }[EventName];

/** What the hub needs of an open socket; hono's WSContext fits. */
export interface EventClient {
  readonly readyState: number;
  send(data: string): void;
  /** The underlying socket, when it can tell how much is waiting to be sent and be cut off. */
  readonly raw?: unknown;
}

const OPEN = 1;
/** A client that lets this much pile up unread is cut off: it reconnects, sees the `seq` gap and refetches. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * Owns the sequence number and the set of open sockets. Each event is serialised once and the same string
 * is sent to every open socket, in emission order.
 */
export class EventHub {
  #seq = 0;
  readonly clients = new Set<EventClient>();

  constructor(private readonly log: Logger) {}

  publish(events: readonly DomainEvent[]): void {
    for (const { type, data } of events) {
      const message = JSON.stringify({ type, event: type, data, timestamp: Date.now(), seq: ++this.#seq });
      this.log.debug(`broadcast #${this.#seq} ${type} to ${this.clients.size} client(s)`);
      for (const client of this.clients) {
        if (client.readyState !== OPEN) continue;
        try {
          client.send(message);
        } catch (error) {
          this.log.warn(`dropping a WebSocket client that failed a send: ${String(error)}`);
          this.clients.delete(client);
          continue;
        }
        const socket = client.raw as { bufferedAmount?: number; terminate?: () => void } | undefined;
        if ((socket?.bufferedAmount ?? 0) > MAX_BUFFERED_BYTES) {
          this.log.warn('dropping a WebSocket client that stopped reading (over 8 MiB of events waiting)');
          this.clients.delete(client);
          socket?.terminate?.();
        }
      }
    }
  }

  /** Handles a message from a client: only `{ "type": "ping" }` means something; anything else is ignored. */
  receive(client: EventClient, raw: unknown): void {
    if (typeof raw !== 'string' || raw.length > 1024) return;
    try {
      const message: unknown = JSON.parse(raw);
      if (message && typeof message === 'object' && (message as { type?: unknown }).type === 'ping') {
        client.send(JSON.stringify({ type: 'pong', timestamp: Date.now() }));
      }
    } catch {
      // Garbage from a client is ignored by contract (§4.3).
    }
  }
}
