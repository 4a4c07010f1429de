// Request schemas (valibot): what each route accepts, with the contract's messages (§3).
import * as v from 'valibot';
import { ID_PATTERN } from '../ids.js';
import { AGENT_PRESETS } from './agents.js';
import { ATTENTION_STATES } from './attention.js';
import {
  ACCESS_ROLES,
  MESSAGE_STATUSES,
  MESSAGE_TYPES,
  ROLES,
  SESSION_STATUSES,
  STRATEGIES,
  TASK_PRIORITIES,
  TASK_SESSION_STATUSES,
  TASK_STATUSES,
  TIMELINE_TYPES,
  type TimelineType,
} from './types.js';
import { ProjectWorkspaceInput } from './workspace-requests.js';

/** Request schemas (contract §3). Messages are the contract's, since clients may show them. */

const MISSING = Symbol('missing');

/**
 * For the API description: schemas whose JSON Schema is better told by another schema (a pipe that starts from
 * `unknown` converts to nothing useful), and fields that are required although their schema starts with `nullish`.
 */
export const DOCUMENTED_AS = new WeakMap<object, v.GenericSchema>();
export const REQUIRED_FIELDS = new WeakSet<object>();
const documentedAs = <S extends object>(schema: S, as: v.GenericSchema, required = false): S => {
  DOCUMENTED_AS.set(schema, as);
  if (required) REQUIRED_FIELDS.add(schema);
  return schema;
};

/**
 * A field that must be present and non-null, then match `schema`. valibot reports a missing key with the object's
 * message, not the field's, so the field defaults to a marker that the check turns into "<name> is required".
 */
const required = <S extends v.GenericSchema>(name: string, schema: S) =>
  documentedAs(
    v.pipe(
      v.nullish(v.unknown(), MISSING as unknown),
      v.check((value) => value !== MISSING, `${name} is required`),
      schema,
    ),
    schema,
    true,
  ) as unknown as v.GenericSchema<unknown, v.InferOutput<S>>;

const text = (name: string) => v.string(`${name} must be a string`);
/** Required, trimmed and non-blank. */
const requiredText = (name: string) => required(name, v.pipe(text(name), v.trim(), v.nonEmpty(`${name} is required`)));
const optionalText = (name: string) => v.optional(text(name));
const textOr = (name: string, fallback: string) => v.optional(text(name), fallback);
const oneOf = <T extends readonly string[]>(name: string, values: T) => v.picklist(values, `${name} must be one of: ${values.join(', ')}`);
const stringList = (name: string) => v.array(text(`${name}[]`), `${name} must be an array of strings`);
/** A JSON object whose values match `value`: valibot's record alone takes an array as an object of its indexes. */
const objectOf = <S extends v.GenericSchema>(value: S, message: string) =>
  documentedAs(
    v.pipe(
      v.unknown(),
      v.check((input) => !Array.isArray(input), message),
      v.record(v.string(), value, message),
    ),
    v.record(v.string(), value),
  );
const plainObject = (name: string) => objectOf(v.unknown(), `${name} must be an object`);
const notArray = (message: string) => v.check((input: unknown) => !Array.isArray(input), message);
const stringMap = (name: string) => objectOf(text(`each value of ${name}`), `${name} must be an object of strings`);
/** An enum that also accepts documented aliases, stored in canonical form. */
const aliased = <T extends readonly string[]>(name: string, values: T, aliases: Record<string, T[number]>) =>
  documentedAs(
    v.pipe(
      text(name),
      v.transform((s) => aliases[s] ?? s),
      oneOf(name, values),
    ),
    v.picklist([...values, ...Object.keys(aliases)]),
  );

export const taskStatus = aliased('status', TASK_STATUSES, { pending: 'todo' });
export const sessionStatus = aliased('status', SESSION_STATUSES, { running: 'working' });
export const role = oneOf('role', ROLES);
// §13.1: the listed types, or any lower-case snake_case name (real clients send `task_status_changed`).
const timelineType = v.pipe(
  v.string('type must be a string'),
  v.check(
    (t) => (TIMELINE_TYPES as readonly string[]).includes(t) || /^[a-z][a-z0-9_]{0,63}$/.test(t),
    `type must be one of ${TIMELINE_TYPES.join(', ')}, or match ^[a-z][a-z0-9_]{0,63}$`,
  ),
  v.transform((t) => t as TimelineType),
);

// Paging (contract §3.8)
const paging = {
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, 'limit must be an integer from 1 to 1000'),
      v.transform(Number),
      v.minValue(1, 'limit must be an integer from 1 to 1000'),
      v.maxValue(1000, 'limit must be an integer from 1 to 1000'),
    ),
  ),
  cursor: v.optional(v.string()),
};
export const ProjectQuery = v.object(paging);
const agentPreset = v.picklist(AGENT_PRESETS, 'agent must be one of claude, codex, gemini, shell, custom');
// valibot's object alone takes an array for an object with none of its keys.
const projectWorkspace = v.optional(
  documentedAs(v.pipe(v.unknown(), notArray('workspace must be an object'), ProjectWorkspaceInput), ProjectWorkspaceInput),
);

export const CreateProject = v.object({
  name: requiredText('name'),
  workingDir: textOr('workingDir', ''),
  description: textOr('description', ''),
  agent: v.optional(agentPreset),
  workspace: projectWorkspace,
});

export const UpdateProject = v.object({
  name: v.optional(v.pipe(text('name'), v.trim(), v.nonEmpty('name cannot be empty'))),
  workingDir: optionalText('workingDir'),
  description: optionalText('description'),
  agent: v.optional(agentPreset),
  workspace: projectWorkspace,
});

export const TaskQuery = v.object({
  ...paging,
  projectId: v.optional(v.string()),
  status: v.optional(taskStatus),
  parentId: v.optional(v.string()),
});

export const CreateTask = v.object({
  projectId: requiredText('projectId'),
  title: requiredText('title'),
  parentId: v.nullish(text('parentId')),
  description: textOr('description', ''),
  priority: v.optional(oneOf('priority', TASK_PRIORITIES), 'medium'),
  initialPrompt: textOr('initialPrompt', ''),
  skillIds: v.optional(stringList('skillIds'), []),
  dependencies: v.optional(stringList('dependencies'), []),
});

export const UpdateTask = v.object({
  title: v.optional(v.pipe(text('title'), v.trim(), v.nonEmpty('title cannot be empty'))),
  description: optionalText('description'),
  status: v.optional(taskStatus),
  priority: v.optional(oneOf('priority', TASK_PRIORITIES)),
  sessionStatus: v.optional(oneOf('sessionStatus', TASK_SESSION_STATUSES)),
  skillIds: v.optional(stringList('skillIds')),
  agentIds: v.optional(stringList('agentIds')),
  sessionIds: v.optional(stringList('sessionIds')),
  dependencies: v.optional(stringList('dependencies')),
  updateSource: v.optional(oneOf('updateSource', ['user', 'session'] as const), 'user'),
  sessionId: optionalText('sessionId'),
});

// Next and claims (contract §18.2)
const LEASE_MESSAGE = 'leaseMs must be an integer from 60000 to 86400000';
const leaseMs = v.optional(
  v.pipe(v.number(LEASE_MESSAGE), v.integer(LEASE_MESSAGE), v.minValue(60_000, LEASE_MESSAGE), v.maxValue(86_400_000, LEASE_MESSAGE)),
  900_000,
);
export const NextQuery = v.object({ projectId: requiredText('projectId') });
export const ClaimTask = v.object({ sessionId: requiredText('sessionId'), leaseMs });
export const ClaimNext = v.object({ projectId: requiredText('projectId'), sessionId: requiredText('sessionId'), leaseMs });
export type ClaimInput = v.InferOutput<typeof ClaimTask>;
export type ClaimNextInput = v.InferOutput<typeof ClaimNext>;

export const TaskTimelinePost = v.object({
  message: requiredText('message'),
  sessionId: requiredText('sessionId'),
  type: v.optional(timelineType, 'progress'),
});

export const SessionQuery = v.object({
  ...paging,
  projectId: v.optional(v.string()),
  taskId: v.optional(v.string()),
  status: v.optional(sessionStatus),
  active: v.optional(oneOf('active', ['true', 'false'] as const)),
  parentSessionId: v.optional(v.string()),
  attention: v.optional(oneOf('attention', ATTENTION_STATES)),
});

export const CreateSession = v.object({
  taskIds: required('taskIds', stringList('taskIds')),
  projectId: requiredText('projectId'),
  id: v.optional(v.pipe(text('id'), v.regex(ID_PATTERN, 'id must match ^[A-Za-z0-9_-]{1,128}$'))),
  name: textOr('name', 'Unnamed Session'),
  agentId: optionalText('agentId'),
  strategy: v.optional(oneOf('strategy', STRATEGIES), 'simple'),
  status: v.optional(sessionStatus, 'idle'),
  env: v.optional(stringMap('env'), {}),
  metadata: v.optional(plainObject('metadata')),
});

const EventInput = v.object({ type: requiredText('type'), data: v.optional(v.unknown()) });
const TimelineInput = v.object({
  message: requiredText('message'),
  type: v.optional(timelineType, 'progress'),
  taskId: optionalText('taskId'),
  metadata: v.optional(plainObject('metadata')),
});

export const UpdateSession = v.object({
  status: v.optional(sessionStatus),
  taskIds: v.optional(stringList('taskIds')),
  agentId: optionalText('agentId'),
  env: v.optional(stringMap('env')),
  events: v.optional(v.array(EventInput, 'events must be an array')),
  timeline: v.optional(v.array(TimelineInput, 'timeline must be an array')),
});

export const SessionEventPost = EventInput;

/** `POST /api/sessions/:id/attention`: one agent hook, as `maestro hook <event>` reports it (§21). */
export const AttentionHookPost = v.object({
  event: required('event', v.pipe(text('event'), v.regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'event must be a hook event name'))),
  /** The hook's JSON, reduced by `maestro hook` to the fields attention reads (hook-events.ts). */
  payload: v.optional(plainObject('payload')),
});
export const SessionTimelinePost = TimelineInput;

export type CreateProjectInput = v.InferOutput<typeof CreateProject>;
export type UpdateProjectInput = v.InferOutput<typeof UpdateProject>;
export type CreateTaskInput = v.InferOutput<typeof CreateTask>;
export type UpdateTaskInput = v.InferOutput<typeof UpdateTask>;
export type TaskQueryInput = v.InferOutput<typeof TaskQuery>;
export type CreateSessionInput = v.InferOutput<typeof CreateSession>;
export type UpdateSessionInput = v.InferOutput<typeof UpdateSession>;
export type SessionQueryInput = v.InferOutput<typeof SessionQuery>;
export type TimelineInputValue = v.InferOutput<typeof TimelineInput>;

// Templates (contract §3.6)
export const ROLE_MESSAGE = 'Invalid role. Must be "worker" or "orchestrator"';
export const roleParam = v.picklist(ROLES, ROLE_MESSAGE);
export const CreateTemplate = documentedAs(
  v.pipe(
    // null counts as missing, as for every other required field.
    v.object({ name: v.nullish(text('name')), role: v.nullish(text('role')), content: v.nullish(text('content')) }),
    v.check((t) => Boolean(t.name?.trim() && t.role && t.content?.trim()), 'name, role, and content are required'),
    v.rawCheck(({ dataset, addIssue }) => {
      if (dataset.typed && !(ROLES as readonly string[]).includes(dataset.value.role!)) addIssue({ message: ROLE_MESSAGE });
    }),
    v.transform((t) => ({ name: t.name!.trim(), role: t.role as (typeof ROLES)[number], content: t.content! })),
  ),
  v.object({ name: v.string(), role: v.picklist(ROLES), content: v.string() }),
);
export const UpdateTemplate = v.pipe(
  v.object({ name: optionalText('name'), content: optionalText('content') }),
  v.check((t) => t.name !== undefined || t.content !== undefined, 'At least one of name or content is required'),
  v.check((t) => t.name === undefined || t.name.trim() !== '', 'name cannot be empty'),
  v.check((t) => t.content === undefined || t.content.trim() !== '', 'content cannot be empty'),
);

// Controlling a running agent (contract §15.4)
export const SessionStop = v.object({ reason: optionalText('reason') });
export const SessionInput = v.object({
  text: required(
    'text',
    v.pipe(
      text('text'),
      v.check((t) => Buffer.byteLength(t) <= 64 * 1024, 'text must be at most 64 KiB'),
    ),
  ),
  submit: v.optional(v.boolean('submit must be a boolean'), true),
});
export const TerminalQuery = v.object({
  lines: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, 'lines must be an integer from 1 to 5000'),
      v.transform(Number),
      v.minValue(1, 'lines must be an integer from 1 to 5000'),
      v.maxValue(5000, 'lines must be an integer from 1 to 5000'),
    ),
    '200',
  ),
});

// Queue operations (contract §3.5)
export const QueueFail = v.object({ reason: optionalText('reason') });
// null counts as missing ("taskId is required"), as for every other required field.
export const QueuePush = v.object({
  taskId: v.pipe(
    v.nullish(text('taskId')),
    v.transform((id) => id ?? undefined),
  ),
});

// Messages (contract §16)
/** C0 controls except tab, LF and CR, DEL and the C1 controls: removed from a message before it is checked (§16.2). */
const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
export const MAX_MESSAGE_CHARS = 10_000;
const idText = (name: string) => v.pipe(text(name), v.regex(ID_PATTERN, `${name} must match ^[A-Za-z0-9_-]{1,128}$`));

const MessageMetadata = v.object(
  {
    taskId: v.optional(idText('metadata.taskId')),
    type: v.optional(oneOf('metadata.type', MESSAGE_TYPES)),
    priority: v.optional(oneOf('metadata.priority', TASK_PRIORITIES), 'medium'),
    requiresAck: v.optional(v.boolean('metadata.requiresAck must be a boolean'), false),
    replyTo: v.optional(v.pipe(text('metadata.replyTo'), v.nonEmpty('metadata.replyTo cannot be empty'))),
  },
  'metadata must be an object',
);

export const SendMessage = v.object({
  message: required(
    'message',
    v.pipe(
      text('message'),
      v.transform((s) => s.replace(CONTROL_CHARS, '')),
      v.check((s) => s.trim() !== '', 'message is required'),
      // Counted in Unicode characters (code points), not UTF-16 units.
      v.check((s) => [...s].length <= MAX_MESSAGE_CHARS, `message must be at most ${MAX_MESSAGE_CHARS} characters`),
    ),
  ),
  // v.object drops keys it does not list: unknown metadata keys are never stored (§16.1).
  metadata: v.optional(documentedAs(v.pipe(v.unknown(), notArray('metadata must be an object'), MessageMetadata), MessageMetadata), {}),
  expiresInMs: v.optional(
    v.pipe(
      v.number('expiresInMs must be a number'),
      v.integer('expiresInMs must be an integer from 1000 to 604800000'),
      v.minValue(1000, 'expiresInMs must be an integer from 1000 to 604800000'),
      v.maxValue(604_800_000, 'expiresInMs must be an integer from 1000 to 604800000'),
    ),
  ),
});

export const MessageQuery = v.object({
  box: v.optional(oneOf('box', ['inbox', 'sent'] as const), 'inbox'),
  status: v.optional(
    v.pipe(
      text('status'),
      v.transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
      v.array(oneOf('status', MESSAGE_STATUSES)),
    ),
  ),
  since: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'since must be a time in ms'), v.transform(Number))),
  limit: paging.limit,
});

const timelineLimitText = 'limit must be an integer from 1 to 500';
/** `GET /api/sessions/:id/timeline` (§24.9). */
export const TimelineQuery = v.object({
  before: v.optional(v.pipe(v.string(), v.description('The `next` of the previous page: entries older than this one'))),
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, timelineLimitText),
      v.transform(Number),
      v.minValue(1, timelineLimitText),
      v.maxValue(500, timelineLimitText),
    ),
    '100',
  ),
});

export const UpdateMessage = v.object({
  status: required('status', oneOf('status', ['delivered', 'read'] as const)),
});

export type SendMessageInput = v.InferOutput<typeof SendMessage>;
export type MessageQueryInput = v.InferOutput<typeof MessageQuery>;
// The event log (contract §17)
const limitText = 'limit must be an integer from 1 to 1000';
export const EventsQuery = v.object({
  since: v.optional(v.pipe(v.string(), v.description('Return the events after this seq (Last-Event-ID on the SSE stream)'))),
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d+$/, limitText), v.transform(Number), v.minValue(1, limitText), v.maxValue(1000, limitText)),
    '100',
  ),
  projectId: v.optional(v.pipe(v.string(), v.description("Only this project's events, and global ones"))),
  sessionId: v.optional(v.string()),
  messages: v.optional(v.pipe(v.picklist(['only']), v.description("With sessionId: only that session's message events"))),
});

/** `POST /api/tokens` (contract §23). */
export const CreateToken = v.object({
  name: required(
    'name',
    v.pipe(text('name'), v.trim(), v.nonEmpty('name is required'), v.maxLength(100, 'name must be at most 100 characters')),
  ),
  role: required('role', oneOf('role', ACCESS_ROLES)),
});
