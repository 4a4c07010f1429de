/**
 * The entities (contract §2) and the other answers of the API, as valibot schemas: the one definition of their shape.
 * types.ts derives the TypeScript types from them, `/api/openapi.json` and `/api/asyncapi.json` publish them, and the
 * dashboard imports the types. Nothing parses with them; requests are checked by requests.ts.
 */
import * as v from 'valibot';
import { ATTENTION_SOURCES, ATTENTION_STATES } from './attention.js';

export const TASK_STATUSES = ['todo', 'in_progress', 'completed', 'cancelled', 'blocked'] as const;
export const TASK_PRIORITIES = ['low', 'medium', 'high'] as const;
export const TASK_SESSION_STATUSES = ['queued', 'working', 'needs_input', 'blocked', 'completed', 'failed', 'skipped'] as const;
export const SESSION_STATUSES = ['spawning', 'idle', 'working', 'completed', 'failed', 'stopped'] as const;
/** The statuses a session never leaves on its own: its agent is gone, its claims are released, its token is void. */
const FINAL = ['completed', 'failed', 'stopped'] as const satisfies readonly (typeof SESSION_STATUSES)[number][];
export type FinalSessionStatus = (typeof FINAL)[number];
export const FINAL_SESSION_STATUSES: readonly (typeof SESSION_STATUSES)[number][] = FINAL;
export const isFinalSessionStatus = (status: string): status is FinalSessionStatus => (FINAL as readonly string[]).includes(status);
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
  'workspace_created',
  'workspace_merged',
  'workspace_removed',
] as const;
/** §13.1: besides the listed types, a client may send any lower-case snake_case name. */
export const CUSTOM_TIMELINE_TYPE = /^[a-z][a-z0-9_]{0,63}$/;
export const QUEUE_ITEM_STATUSES = ['queued', 'processing', 'completed', 'failed', 'skipped'] as const;
export const RUN_STATES = ['pending', 'running', 'exited', 'lost'] as const;
export const MESSAGE_STATUSES = ['pending', 'delivered', 'read', 'failed', 'expired'] as const;
export const MESSAGE_TYPES = ['request', 'response', 'notification', 'command'] as const;

const ms = v.pipe(v.number(), v.integer(), v.description('Milliseconds since the Unix epoch'));
const msOrNull = v.nullable(ms);
const strings = v.array(v.string());
const object = v.record(v.string(), v.unknown());

export const ErrorBody = v.pipe(
  v.object({
    error: v.literal(true),
    code: v.pipe(v.string(), v.description('Machine-readable code, e.g. TASK_NOT_FOUND (contract §1.6)')),
    message: v.string(),
    details: v.optional(object),
  }),
  v.description('Every error answer (contract §1.4); VALIDATION_ERROR lists details.issues = [{ path, message }]'),
);

export const Deleted = v.object({ success: v.literal(true), id: v.string() });

/** A project's workspace settings (§20.1). */
export const ProjectWorkspace = v.object({
  mode: v.optional(v.picklist(['auto', 'worktree', 'shared'])),
  baseBranch: v.optional(v.string()),
  copy: v.optional(strings),
  setup: v.optional(v.pipe(v.string(), v.description("Run with sh -c in a new worktree, in the agent's terminal, before the agent"))),
});

/** A session's workspace (§20.2): its git worktree and branch, or `shared` (the project's directory). */
export const Workspace = v.object({
  mode: v.picklist(['worktree', 'shared']),
  path: v.string(),
  branch: v.nullable(v.string()),
  baseBranch: v.nullable(v.string()),
  baseCommit: v.nullable(v.string()),
  repoPath: v.nullable(v.string()),
  state: v.picklist(['active', 'merged', 'removed']),
  mergedCommit: v.optional(v.string()),
  archiveRef: v.optional(v.string()),
});

export const Project = v.object({
  id: v.string(),
  name: v.string(),
  workingDir: v.string(),
  description: v.string(),
  createdAt: ms,
  updatedAt: ms,
  agent: v.optional(v.pipe(v.string(), v.description('The agent preset spawns in this project use by default'))),
  workspace: v.optional(ProjectWorkspace),
});

export const Task = v.object({
  id: v.string(),
  projectId: v.string(),
  parentId: v.nullable(v.string()),
  title: v.string(),
  description: v.string(),
  status: v.picklist(TASK_STATUSES),
  sessionStatus: v.optional(v.picklist(TASK_SESSION_STATUSES)),
  priority: v.picklist(TASK_PRIORITIES),
  createdAt: ms,
  updatedAt: ms,
  startedAt: msOrNull,
  completedAt: msOrNull,
  initialPrompt: v.string(),
  sessionIds: strings,
  skillIds: strings,
  agentIds: strings,
  dependencies: strings,
  claim: v.optional(v.object({ sessionId: v.string(), claimedAt: ms, expiresAt: ms, leaseMs: v.number() })),
  sessionCount: v.pipe(v.number(), v.integer(), v.description('Derived: the length of sessionIds')),
  blockedBy: v.pipe(strings, v.description('Derived: the dependencies that are not completed')),
  ready: v.pipe(v.boolean(), v.description('Derived: todo, nothing blocking it and no live claim')),
});

/** The answer of `next` and `claim-next` (§18.2). */
export const NextTask = v.object({ task: v.nullable(Task) });

const timelineType = v.union([v.picklist(TIMELINE_TYPES), v.pipe(v.string(), v.regex(CUSTOM_TIMELINE_TYPE))]);

export const SessionEvent = v.object({ id: v.string(), timestamp: ms, type: v.string(), data: v.optional(v.unknown()) });
/** Who did something (contract §23): on every event envelope and on timeline entries added through the API. */
export const Actor = v.object({
  kind: v.picklist(['admin', 'user', 'session', 'runner', 'system']),
  id: v.optional(v.string()),
  name: v.optional(v.string()),
});

export const TimelineEntry = v.object({
  id: v.string(),
  type: timelineType,
  timestamp: ms,
  message: v.optional(v.string()),
  taskId: v.optional(v.string()),
  metadata: v.optional(object),
  actor: v.optional(Actor),
});

/** §21: what a runner-managed agent is doing for its person. */
export const Attention = v.object({
  state: v.picklist(ATTENTION_STATES),
  since: ms,
  reason: v.nullable(v.string()),
  source: v.picklist(ATTENTION_SOURCES),
});

/** A page of `GET /api/sessions/:id/timeline` (§24.9): newest first; `next` is the `before` of the next page. */
export const TimelinePage = v.object({ entries: v.array(TimelineEntry), next: v.nullable(v.string()) });

export const Session = v.object({
  id: v.string(),
  projectId: v.string(),
  taskIds: strings,
  name: v.string(),
  agentId: v.optional(v.string()),
  env: v.record(v.string(), v.string()),
  strategy: v.picklist(STRATEGIES),
  status: v.picklist(SESSION_STATUSES),
  startedAt: ms,
  lastActivity: ms,
  completedAt: msOrNull,
  hostname: v.string(),
  platform: v.string(),
  events: v.array(SessionEvent),
  timeline: v.array(TimelineEntry),
  metadata: v.optional(object),
  host: v.pipe(v.nullable(v.string()), v.description('The runner the agent runs on; null when none launched it')),
  agent: v.nullable(v.string()),
  run: v.nullable(
    v.object({
      state: v.picklist(RUN_STATES),
      pid: v.optional(v.number()),
      exitCode: v.optional(v.nullable(v.number())),
      signal: v.optional(v.nullable(v.string())),
      launchedAt: v.optional(ms),
      endedAt: v.optional(ms),
      reason: v.optional(v.string()),
    }),
  ),
  attention: v.pipe(
    v.nullable(Attention),
    v.description('Whether the agent works, waits for a person, or finished its turn (§21); null before launch and for other sessions'),
  ),
  workspace: v.optional(v.nullable(Workspace)),
});

/** `GET /api/sessions/:id/diff` (§20.3). */
export const WorkspaceDiff = v.object({
  sessionId: v.string(),
  branch: v.nullable(v.string()),
  baseBranch: v.nullable(v.string()),
  baseCommit: v.nullable(v.string()),
  mergeBase: v.string(),
  headCommit: v.string(),
  files: v.array(
    v.object({
      path: v.string(),
      oldPath: v.optional(v.string()),
      status: v.picklist(['added', 'modified', 'deleted', 'renamed']),
      additions: v.number(),
      deletions: v.number(),
      binary: v.boolean(),
    }),
  ),
  conflicts: v.pipe(strings, v.description('Paths that would conflict if merged into the base branch now')),
  patch: v.pipe(v.string(), v.description('Unified diff, cut at 2 MiB (then truncated is true); empty with ?stat=1')),
  truncated: v.boolean(),
});

/** `POST /api/sessions/:id/merge` (§20.4). */
export const MergeResult = v.object({
  sessionId: v.string(),
  strategy: v.picklist(['squash', 'merge', 'rebase']),
  baseBranch: v.string(),
  commit: v.pipe(v.string(), v.description('The new head of the base branch')),
});

/** A runner's machine (§15.1). */
export const Host = v.object({
  name: v.string(),
  hostname: v.string(),
  platform: v.string(),
  arch: v.string(),
  version: v.string(),
  agents: v.pipe(strings, v.description('Agent presets whose program the runner found on its PATH')),
  local: v.boolean(),
  status: v.picklist(['online', 'offline']),
  connectedAt: msOrNull,
  lastSeen: ms,
  sessions: v.pipe(v.number(), v.description('Derived: sessions on this host that are not final')),
});

/** `GET /api/sessions/:id/terminal` (§15.4). */
export const TerminalSnapshot = v.object({
  sessionId: v.string(),
  host: v.string(),
  text: v.string(),
  cols: v.number(),
  rows: v.number(),
  alive: v.boolean(),
});

export const QueueItem = v.object({
  taskId: v.string(),
  status: v.picklist(QUEUE_ITEM_STATUSES),
  addedAt: ms,
  startedAt: v.optional(ms),
  completedAt: v.optional(ms),
  failReason: v.optional(v.string()),
});

export const Queue = v.object({
  sessionId: v.string(),
  strategy: v.literal('queue'),
  items: v.array(QueueItem),
  currentIndex: v.number(),
  createdAt: ms,
  updatedAt: ms,
});

const count = v.pipe(v.number(), v.integer());
export const QueueStats = v.object({
  total: count,
  queued: count,
  processing: count,
  completed: count,
  failed: count,
  skipped: count,
});

/** The answer of the queue operations: which item moved, and a human message (contract §3.5). */
export const QueueResult = v.looseObject({
  success: v.optional(v.boolean()),
  item: v.nullable(QueueItem),
  message: v.optional(v.string()),
  hasMore: v.optional(v.boolean()),
  empty: v.optional(v.boolean()),
  nextItem: v.optional(v.nullable(QueueItem)),
});

export const QueueView = v.object({ queue: Queue, stats: QueueStats });
export const QueueItems = v.object({ items: v.array(QueueItem), stats: QueueStats });

export const TaskTimelineResult = v.object({
  success: v.literal(true),
  taskId: v.string(),
  sessionId: v.string(),
  message: v.string(),
  type: timelineType,
});

export const Health = v.object({
  status: v.literal('ok'),
  timestamp: ms,
  uptime: v.pipe(v.number(), v.description('Process uptime in seconds')),
});
export const WsStatus = v.object({
  connectedClients: count,
  clients: v.array(v.object({ readyState: count, readyStateText: v.picklist(['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) })),
});

export const Template = v.object({
  id: v.string(),
  name: v.string(),
  role: v.picklist(ROLES),
  content: v.string(),
  isDefault: v.boolean(),
  createdAt: ms,
  updatedAt: ms,
});

export const SkillSummary = v.object({
  id: v.string(),
  name: v.string(),
  description: v.string(),
  type: v.string(),
  version: v.string(),
});
export const Skill = v.object({ ...SkillSummary.entries, instructions: v.string() });
export const SkillReloaded = v.object({ ...SkillSummary.entries, reloaded: v.literal(true) });
export const DefaultTemplate = v.object({ role: v.picklist(ROLES), content: v.string() });

export const SpawnRequest = v.object({
  projectId: v.string(),
  taskIds: v.pipe(strings, v.minLength(1)),
  role: v.optional(v.picklist(ROLES), 'worker'),
  strategy: v.optional(v.picklist(STRATEGIES), 'simple'),
  spawnSource: v.optional(v.picklist(['ui', 'session']), 'ui'),
  sessionId: v.optional(v.pipe(v.string(), v.description('The parent session; required when spawnSource is "session"'))),
  sessionName: v.optional(v.string()),
  skills: v.optional(strings),
  context: v.optional(object),
  spawnedBy: v.optional(v.string()),
  host: v.optional(v.pipe(v.string(), v.description('The runner to launch on (default: the local runner, if any)'))),
  agent: v.optional(v.pipe(v.string(), v.description('Agent preset: claude, codex, gemini, shell or custom'))),
  model: v.optional(v.string()),
  workspace: v.optional(v.pipe(v.picklist(['auto', 'worktree', 'shared']), v.description("Overrides the project's workspace mode"))),
});

export const SpawnResult = v.object({
  success: v.literal(true),
  sessionId: v.string(),
  manifestPath: v.string(),
  message: v.string(),
  session: Session,
  host: v.pipe(v.nullable(v.string()), v.description('The runner it was launched on; null when a UI opens the terminal')),
  agent: v.nullable(v.string()),
  envVars: v.record(v.string(), v.string()),
  initialCommand: v.string(),
  cwd: v.string(),
});

const SpawnEvent = v.object({
  session: Session,
  command: v.string(),
  cwd: v.string(),
  envVars: v.record(v.string(), v.string()),
  manifest: v.unknown(),
  projectId: v.string(),
  taskIds: strings,
  spawnSource: v.picklist(['ui', 'session']),
  parentSessionId: v.nullable(v.string()),
  host: v.pipe(v.nullable(v.string()), v.description('The runner of the launch; null when a UI opens the terminal')),
  agent: v.nullable(v.string()),
  _isSpawnCreated: v.literal(true),
});

/** A page of the event log (§17); each event is an envelope as on the WebSocket. */
export const EventPage = v.object({
  events: v.array(
    v.looseObject({
      type: v.string(),
      event: v.string(),
      data: v.unknown(),
      timestamp: v.number(),
      seq: v.number(),
      projectId: v.optional(v.string()),
    }),
  ),
  oldestSeq: v.number(),
  latestSeq: v.number(),
});

/** A message between sessions (§16.1). */
export const Message = v.object({
  id: v.string(),
  from: v.pipe(v.string(), v.description('The sender session ID, or "user" for a person')),
  to: v.string(),
  projectId: v.pipe(v.string(), v.description("The receiver's project")),
  message: v.string(),
  status: v.picklist(MESSAGE_STATUSES),
  createdAt: ms,
  deliveredAt: msOrNull,
  readAt: msOrNull,
  expiresAt: msOrNull,
  failReason: v.optional(v.string()),
  metadata: v.object({
    taskId: v.optional(v.string()),
    type: v.optional(v.picklist(MESSAGE_TYPES)),
    priority: v.picklist(TASK_PRIORITIES),
    requiresAck: v.boolean(),
    replyTo: v.optional(v.string()),
  }),
});

/** The schemas published under their own names (`components.schemas`), referenced everywhere else. */
export const NAMED_SCHEMAS = {
  Error: ErrorBody,
  Deleted,
  Project,
  Task,
  Session,
  Host,
  SessionEvent,
  TimelineEntry,
  QueueItem,
  Queue,
  QueueStats,
  QueueResult,
  Template,
  SkillSummary,
  Skill,
  SpawnRequest,
  SpawnResult,
  SpawnEvent,
  Message,
};

const id = v.object({ id: v.string() });
const link = v.object({ taskId: v.string(), sessionId: v.string() });
const queueItemEvent = v.object({ sessionId: v.string(), taskId: v.string(), item: QueueItem });
const queueEvent = v.object({ sessionId: v.string(), queue: Queue });
const subtask = v.object({ taskId: v.string(), subtask: Task });
/** A person's token as served (contract §23): never its secret or hash. */
export const PersonTokenView = v.object({
  id: v.string(),
  name: v.string(),
  role: v.picklist(['viewer', 'member', 'admin']),
  createdAt: ms,
  lastUsedAt: v.nullable(ms),
});
/** The answer of `POST /api/tokens`: the secret, shown this once. */
export const CreatedToken = v.object({ ...PersonTokenView.entries, token: v.string() });

/**
 * The `data` of every event (events.ts's EventMap): a new event type does not compile until it is described here
 * (openapi.ts checks it against the EventMap), so `/api/asyncapi.json` always lists every event.
 */
export const EVENT_DATA = {
  'project:created': Project,
  'project:updated': Project,
  'project:deleted': id,
  'task:created': Task,
  'task:updated': Task,
  'task:deleted': id,
  'task:ready': Task,
  'task:claim_released': v.object({
    taskId: v.string(),
    sessionId: v.string(),
    reason: v.picklist(['expired', 'session_ended', 'released']),
  }),
  'session:created': Session,
  'session:updated': Session,
  'session:deleted': id,
  'task:session_added': link,
  'task:session_removed': link,
  'session:task_added': link,
  'session:task_removed': link,
  'session:spawn': SpawnEvent,
  'session:spawn_request': v.object({ ...SpawnEvent.entries, skillIds: strings, name: v.string() }),
  'subtask:created': subtask,
  'subtask:updated': subtask,
  'subtask:deleted': v.object({ taskId: v.string(), subtaskId: v.string() }),
  'queue:created': queueEvent,
  'queue:updated': queueEvent,
  'queue:item_started': queueItemEvent,
  'queue:item_completed': queueItemEvent,
  'queue:item_failed': v.object({ ...queueItemEvent.entries, reason: v.optional(v.string()) }),
  'queue:item_skipped': queueItemEvent,
  'queue:item_pushed': queueItemEvent,
  'template:created': Template,
  'template:updated': Template,
  'template:deleted': id,
  'host:online': Host,
  'host:offline': Host,
  'host:deleted': v.object({ name: v.string() }),
  'token:created': PersonTokenView,
  'token:deleted': id,
  'message:created': Message,
  'message:delivered': Message,
  'message:read': Message,
  'message:failed': Message,
  'message:expired': Message,
  'message:deleted': v.object({ id: v.string(), from: v.string(), to: v.string() }),
  'session:message_sent': v.object({ sessionId: v.string(), message: Message }),
  'session:message_received': v.object({ sessionId: v.string(), message: Message }),
  'session:attention': v.object({ sessionId: v.string(), attention: Attention }),
} satisfies Record<string, v.GenericSchema>;
