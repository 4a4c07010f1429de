/** Entities as stored and served (contract §2). */

export const TASK_STATUSES = ['todo', 'in_progress', 'completed', 'cancelled', 'blocked'] as const;
export const TASK_PRIORITIES = ['low', 'medium', 'high'] as const;
export const TASK_SESSION_STATUSES = ['queued', 'working', 'needs_input', 'blocked', 'completed', 'failed', 'skipped'] as const;
export const SESSION_STATUSES = ['spawning', 'idle', 'working', 'completed', 'failed', 'stopped'] as const;
export const STRATEGIES = ['simple', 'queue', 'tree'] as const;
export const ROLES = ['worker', 'orchestrator'] as const;
export const TIMELINE_TYPES = [
  'session_started',
  'session_stopped',
  'task_started',
  'task_completed',
  'task_failed',
  'task_skipped',
  'task_blocked',
  'needs_input',
  'progress',
  'error',
  'milestone',
] as const;
export const QUEUE_ITEM_STATUSES = ['queued', 'processing', 'completed', 'failed', 'skipped'] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
export type TaskSessionStatus = (typeof TASK_SESSION_STATUSES)[number];
export type SessionStatus = (typeof SESSION_STATUSES)[number];
export type Strategy = (typeof STRATEGIES)[number];
export type Role = (typeof ROLES)[number];
/** A listed type, or any `^[a-z][a-z0-9_]{0,63}$` name a client sent (§13.1). */
export type TimelineType = (typeof TIMELINE_TYPES)[number] | (string & {});
export type QueueItemStatus = (typeof QUEUE_ITEM_STATUSES)[number];

export interface Project {
  id: string;
  name: string;
  workingDir: string;
  description: string;
  /** The agent preset spawns in this project use by default (contract §15.3). */
  agent?: string;
  createdAt: number;
  updatedAt: number;
}

export interface Task {
  id: string;
  projectId: string;
  parentId: string | null;
  title: string;
  description: string;
  status: TaskStatus;
  sessionStatus?: TaskSessionStatus;
  priority: TaskPriority;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  completedAt: number | null;
  initialPrompt: string;
  sessionIds: string[];
  skillIds: string[];
  agentIds: string[];
  dependencies: string[];
  /** The session working on the task under a lease (contract §18.2); absent when unclaimed. */
  claim?: TaskClaim;
}

export interface TaskClaim {
  sessionId: string;
  claimedAt: number;
  expiresAt: number;
  leaseMs: number;
}

/**
 * A task as served: with the derived `sessionCount`, `blockedBy` (dependencies not yet `completed`) and `ready`
 * (`todo`, nothing blocking, no claim). Never stored (contract §5, §18.1).
 */
export type TaskView = Task & { sessionCount: number; blockedBy: string[]; ready: boolean };

export interface SessionEvent {
  id: string;
  timestamp: number;
  type: string;
  data?: unknown;
}

export interface TimelineEntry {
  id: string;
  type: TimelineType;
  timestamp: number;
  message?: string;
  taskId?: string;
  metadata?: Record<string, unknown>;
}

export interface Session {
  id: string;
  projectId: string;
  taskIds: string[];
  name: string;
  agentId?: string;
  env: Record<string, string>;
  strategy: Strategy;
  status: SessionStatus;
  startedAt: number;
  lastActivity: number;
  completedAt: number | null;
  hostname: string;
  platform: string;
  events: SessionEvent[];
  timeline: TimelineEntry[];
  metadata?: Record<string, unknown>;
  /** The runner the agent runs on (contract §15.3); null when no runner launched it. */
  host: string | null;
  /** The agent preset (§15.5) it was launched with. */
  agent: string | null;
  run: SessionRun | null;
}

export const RUN_STATES = ['pending', 'running', 'exited', 'lost'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** What a runner knows of the agent process of a session (contract §15.3). */
export interface SessionRun {
  state: RunState;
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  launchedAt?: number;
  endedAt?: number;
  reason?: string;
}

/** A runner's machine (contract §15.1), as stored: `status` and `sessions` are derived when served. */
export interface HostRecord {
  name: string;
  hostname: string;
  platform: string;
  arch: string;
  version: string;
  agents: string[];
  local: boolean;
  connectedAt: number | null;
  lastSeen: number;
}
export type Host = HostRecord & { status: 'online' | 'offline'; sessions: number };

/** The SHA-256 of a session's token (contract §15.6), kept outside the served session. */
export interface SessionSecret {
  sessionId: string;
  tokenHash: string;
  createdAt: number;
}

export const FINAL_SESSION_STATUSES: readonly SessionStatus[] = ['completed', 'failed', 'stopped'];

export interface QueueItem {
  taskId: string;
  status: QueueItemStatus;
  addedAt: number;
  startedAt?: number;
  completedAt?: number;
  failReason?: string;
}

export interface QueueState {
  sessionId: string;
  strategy: 'queue';
  items: QueueItem[];
  currentIndex: number;
  createdAt: number;
  updatedAt: number;
}

export interface Template {
  id: string;
  name: string;
  role: Role;
  content: string;
  isDefault: boolean;
  createdAt: number;
  updatedAt: number;
}

export const MESSAGE_STATUSES = ['pending', 'delivered', 'read', 'failed', 'expired'] as const;
export const MESSAGE_TYPES = ['request', 'response', 'notification', 'command'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** A message between sessions, or from a person (`from: "user"`) to a session (contract §16.1). */
export interface Message {
  id: string;
  from: string;
  to: string;
  projectId: string;
  message: string;
  status: MessageStatus;
  createdAt: number;
  deliveredAt: number | null;
  readAt: number | null;
  expiresAt: number | null;
  failReason?: string;
  metadata: {
    taskId?: string;
    type?: MessageType;
    priority: TaskPriority;
    requiresAck: boolean;
    replyTo?: string;
  };
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
