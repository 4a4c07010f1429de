/**
 * The entities as the API serves them (contract §2, §15, §16, §18): the server's own types, imported as types only,
 * so the dashboard follows every change of shape and nothing of the server ends up in its bundle.
 */
import type { FinalSessionStatus, TaskStatus } from '../../lib/domain/types.js';

export type {
  Host,
  Message,
  Project,
  Session,
  TaskPriority as Priority,
  TaskStatus,
  TaskView as Task,
  TimelineEntry,
} from '../../lib/domain/types.js';

/** The board's columns, in the order a task moves through them: a status without a column does not compile. */
const COLUMNS: Record<TaskStatus, true> = { todo: true, in_progress: true, blocked: true, completed: true, cancelled: true };
export const TASK_STATUSES = Object.keys(COLUMNS) as TaskStatus[];

/** A WebSocket / event-log envelope (§4.2, §17). */
export interface Envelope {
  type: string;
  event?: string;
  data: any;
  timestamp: number;
  seq?: number;
  projectId?: string;
  /** Set by the dashboard for `*:updated`: the entity's status before this event, when it was known. */
  before?: string;
  /** Who did it (contract §23). */
  actor?: Actor;
}

/** Who did something (contract §23): on every event and on timeline entries added through the API. */
export interface Actor {
  kind: 'admin' | 'user' | 'session' | 'runner' | 'system';
  id?: string;
  name?: string;
}

/** Who the dashboard is signed in as (`GET /api/me`). */
export interface Me {
  actor: Actor;
  role: 'viewer' | 'member' | 'admin' | null;
}

/** The server's final session statuses (FINAL_SESSION_STATUSES): a status missing here, or one too many, does not compile. */
const FINAL: Record<FinalSessionStatus, true> = { completed: true, failed: true, stopped: true };
export const isFinalSession = (status: string): boolean => Object.hasOwn(FINAL, status);
