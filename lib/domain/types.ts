/** The entity types (contract §2), derived from their schemas in entities.ts, with the stored forms and the derived fields. */
import type * as v from 'valibot';
import type * as schemas from './entities.js';
import type { SESSION_STATUSES, TASK_PRIORITIES, TASK_SESSION_STATUSES, TASK_STATUSES } from './entities.js';

export {
  FINAL_SESSION_STATUSES,
  type FinalSessionStatus,
  isFinalSessionStatus,
  MESSAGE_STATUSES,
  MESSAGE_TYPES,
  QUEUE_ITEM_STATUSES,
  ROLES,
  RUN_STATES,
  SESSION_STATUSES,
  STRATEGIES,
  TASK_PRIORITIES,
  TASK_SESSION_STATUSES,
  TASK_STATUSES,
  TIMELINE_TYPES,
} from './entities.js';

type Of<S extends v.GenericSchema> = v.InferOutput<S>;

export type Project = Of<typeof schemas.Project>;

/**
 * A task as served: with the derived `sessionCount`, `blockedBy` (dependencies not yet `completed`) and `ready`
 * (`todo`, nothing blocking, no claim). Never stored (contract §5, §18.1).
 */
export type TaskView = Of<typeof schemas.Task>;
/** A task as stored: without the fields derived when it is served. */
export type Task = Omit<TaskView, 'sessionCount' | 'blockedBy' | 'ready'>;
/** The session working on the task under a lease (contract §18.2). */
export type TaskClaim = NonNullable<Task['claim']>;

export type Session = Of<typeof schemas.Session>;
export type SessionEvent = Of<typeof schemas.SessionEvent>;
export type TimelineEntry = Of<typeof schemas.TimelineEntry>;
/** What a runner knows of the agent process of a session (contract §15.3). */
export type SessionRun = NonNullable<Session['run']>;

/** A runner's machine (contract §15.1) as served, and as stored: `status` and `sessions` are derived when served. */
export type Host = Of<typeof schemas.Host>;
export type HostRecord = Omit<Host, 'status' | 'sessions'>;

export type QueueItem = Of<typeof schemas.QueueItem>;
export type QueueState = Of<typeof schemas.Queue>;
export type Template = Of<typeof schemas.Template>;
/** A message between sessions, or from a person (`from: "user"`) to a session (contract §16.1). */
export type Message = Of<typeof schemas.Message>;

export type TaskStatus = (typeof TASK_STATUSES)[number];
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
export type TaskSessionStatus = (typeof TASK_SESSION_STATUSES)[number];
export type SessionStatus = (typeof SESSION_STATUSES)[number];
export type Strategy = Session['strategy'];
export type Role = Template['role'];
/** A listed type, or any `^[a-z][a-z0-9_]{0,63}$` name a client sent (§13.1). */
export type TimelineType = TimelineEntry['type'];
export type QueueItemStatus = QueueItem['status'];
export type RunState = SessionRun['state'];
export type MessageStatus = Message['status'];
export type MessageType = NonNullable<Message['metadata']['type']>;

/** A timeline entry that left its session's newest 100 (contract §24.9), kept for `GET /api/sessions/:id/timeline`. */
export interface HistoryEntry {
  id: string;
  sessionId: string;
  /** Increases with every archived entry (entry IDs and timestamps do not order entries of one millisecond). */
  order: number;
  entry: TimelineEntry;
}

/** The SHA-256 of a session's token (contract §15.6), kept outside the served session: it has no schema. */
/**
 * One receiver's deliveries taken in bulk (contract §16.3, stored as `deliveries/<sessionId>.json`): a `pending`
 * message file inside a mark's range is served as `delivered` at the mark's `at`, so a first read of a large inbox
 * writes one file instead of one per message. Any later change of such a message writes its file in full.
 */
export interface DeliveryMarks {
  sessionId: string;
  marks: DeliveryMark[];
}

/** Pending messages with `createdAt` > `after` (null: no lower bound) up to `through` (by age, inclusive). */
export interface DeliveryMark {
  after: number | null;
  through: { createdAt: number; id: string };
  at: number;
}

export interface SessionSecret {
  sessionId: string;
  tokenHash: string;
  createdAt: number;
  /** Set for a runner token: the one host name it may connect as. */
  host?: string;
}

/** What a person's token may do (contract §23): `viewer` reads, `member` works, `admin` also manages. */
export const ACCESS_ROLES = ['viewer', 'member', 'admin'] as const;
export type AccessRole = (typeof ACCESS_ROLES)[number];

/** A person's token (contract §23) as stored: only the SHA-256 of its secret. */
export interface PersonToken {
  id: string;
  name: string;
  role: AccessRole;
  createdAt: number;
  lastUsedAt: number | null;
  tokenHash: string;
}

/** A person's token as served: never its hash, never its secret. */
export type TokenView = Omit<PersonToken, 'tokenHash'>;

/** Who did something (contract §23), on every event envelope and on timeline entries added through the API. */
export interface Actor {
  kind: 'admin' | 'user' | 'session' | 'runner' | 'system';
  id?: string;
  name?: string;
}

/**
 * The dependencies of `task` that are not `completed`, looked up through `lookup` (a transaction's `tx.get` inside
 * a mutation, the committed state outside). An ID naming no task (legacy data) blocks nothing: it can never complete.
 */
export const blockedBy = (task: Task, lookup: (id: string) => Task | undefined): string[] =>
  task.dependencies.filter((id) => {
    const dep = lookup(id);
    return dep !== undefined && dep.status !== 'completed';
  });

/** A task as served: the stored task plus its derived fields, its dependencies looked up through `lookup`. */
export function taskView(task: Task, lookup: (id: string) => Task | undefined): TaskView {
  const blocked = blockedBy(task, lookup);
  return {
    ...task,
    sessionCount: task.sessionIds.length,
    blockedBy: blocked,
    ready: task.status === 'todo' && blocked.length === 0 && task.claim === undefined,
  };
}
