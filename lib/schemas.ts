import * as v from 'valibot';
import { AGENT_PRESETS } from './agents.js';
import { ID_PATTERN } from './ids.js';
import {
  ROLES, SESSION_STATUSES, STRATEGIES, TASK_PRIORITIES, TASK_SESSION_STATUSES, TASK_STATUSES, TIMELINE_TYPES, type TimelineType,
} from './types.js';

/** Request schemas (contract §3). Messages are the contract's, since clients may show them. */

const MISSING = Symbol('missing');

/**
 * A field that must be present and non-null, then match `schema`. valibot reports a missing key with the object's
 * message, not the field's, so the field defaults to a marker that the check turns into "<name> is required".
 */
const required = <S extends v.GenericSchema>(name: string, schema: S) =>
  v.pipe(
    v.nullish(v.unknown(), MISSING as unknown),
    v.check((value) => value !== MISSING, `${name} is required`),
    schema,
  ) as unknown as v.GenericSchema<unknown, v.InferOutput<S>>;

const text = (name: string) => v.string(`${name} must be a string`);
/** Required, trimmed and non-blank. */
const requiredText = (name: string) => required(name, v.pipe(text(name), v.trim(), v.nonEmpty(`${name} is required`)));
const optionalText = (name: string) => v.optional(text(name));
const textOr = (name: string, fallback: string) => v.optional(text(name), fallback);
const oneOf = <T extends readonly string[]>(name: string, values: T) =>
  v.picklist(values, `${name} must be one of: ${values.join(', ')}`);
const stringList = (name: string) => v.array(text(`${name}[]`), `${name} must be an array of strings`);
/** A JSON object whose values match `value`: valibot's record alone takes an array as an object of its indexes. */
const objectOf = <S extends v.GenericSchema>(value: S, message: string) =>
  v.pipe(v.unknown(), v.check((input) => !Array.isArray(input), message), v.record(v.string(), value, message));
const plainObject = (name: string) => objectOf(v.unknown(), `${name} must be an object`);
const stringMap = (name: string) => objectOf(text(`each value of ${name}`), `${name} must be an object of strings`);
/** An enum that also accepts documented aliases, stored in canonical form. */
const aliased = <T extends readonly string[]>(name: string, values: T, aliases: Record<string, T[number]>) =>
  v.pipe(text(name), v.transform((s) => aliases[s] ?? s), oneOf(name, values));

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
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'limit must be an integer from 1 to 1000'), v.transform(Number),
    v.minValue(1, 'limit must be an integer from 1 to 1000'), v.maxValue(1000, 'limit must be an integer from 1 to 1000'))),
  cursor: v.optional(v.string()),
};
export const ProjectQuery = v.object(paging);
const agentPreset = v.picklist(AGENT_PRESETS, 'agent must be one of claude, codex, gemini, shell, custom');

export const CreateProject = v.object({
  name: requiredText('name'),
  workingDir: textOr('workingDir', ''),
  description: textOr('description', ''),
  agent: v.optional(agentPreset),
});

export const UpdateProject = v.object({
  name: v.optional(v.pipe(text('name'), v.trim(), v.nonEmpty('name cannot be empty'))),
  workingDir: optionalText('workingDir'),
  description: optionalText('description'),
  agent: v.optional(agentPreset),
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
  updateSource: v.optional(oneOf('updateSource', ['user', 'session'] as const), 'user'),
  sessionId: optionalText('sessionId'),
});

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
export const CreateTemplate = v.pipe(
  // null counts as missing, as for every other required field.
  v.object({ name: v.nullish(text('name')), role: v.nullish(text('role')), content: v.nullish(text('content')) }),
  v.check((t) => Boolean(t.name?.trim() && t.role && t.content?.trim()), 'name, role, and content are required'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (dataset.typed && !(ROLES as readonly string[]).includes(dataset.value.role!)) addIssue({ message: ROLE_MESSAGE });
  }),
  v.transform((t) => ({ name: t.name!.trim(), role: t.role as (typeof ROLES)[number], content: t.content! })),
);
export const UpdateTemplate = v.pipe(
  v.object({ name: optionalText('name'), content: optionalText('content') }),
  v.check((t) => t.name !== undefined || t.content !== undefined, 'At least one of name or content is required'),
  v.check((t) => t.name === undefined || t.name.trim() !== '', 'name cannot be empty'),
);

// Controlling a running agent (contract §15.4)
export const SessionStop = v.object({ reason: optionalText('reason') });
export const SessionInput = v.object({
  text: required('text', v.pipe(text('text'), v.check((t) => Buffer.byteLength(t) <= 64 * 1024, 'text must be at most 64 KiB'))),
  submit: v.optional(v.boolean('submit must be a boolean'), true),
});
export const TerminalQuery = v.object({
  lines: v.optional(
    v.pipe(v.string(), v.regex(/^\d+$/, 'lines must be an integer from 1 to 5000'), v.transform(Number), v.minValue(1, 'lines must be an integer from 1 to 5000'), v.maxValue(5000, 'lines must be an integer from 1 to 5000')),
    '200',
  ),
});

// Queue operations (contract §3.5)
export const QueueFail = v.object({ reason: optionalText('reason') });
// null counts as missing ("taskId is required"), as for every other required field.
export const QueuePush = v.object({ taskId: v.pipe(v.nullish(text('taskId')), v.transform((id) => id ?? undefined)) });
