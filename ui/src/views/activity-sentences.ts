/**
 * The activity feed's sentences: each event becomes "worker-3 completed *Login form*" with the things it names as
 * links, or null for events that repeat another one (`session:spawn_request`, `subtask:*`, the mirror link events).
 */
import { state } from '../store';
import type { Actor, Envelope } from '../types';

/** Plain text, or a named thing the row links to. */
export type Part = string | { text: string; href: string };
export type Kind = 'tasks' | 'sessions' | 'messages' | 'hosts' | 'projects';
export interface Sentence {
  kind: Kind;
  parts: Part[];
}

/** Names of things seen in events, so a deleted task is still called by its title. */
export type Names = Map<string, string>;

const href = (kind: string, id: string) => `#/${kind}/${encodeURIComponent(id)}`;
const task = (id: string, names: Names): Part =>
  state.tasks.has(id) ? { text: state.tasks.get(id)!.title, href: href('t', id) } : (names.get(id) ?? 'a task');
const session = (id: string, names: Names): Part =>
  id === 'user'
    ? 'You'
    : state.sessions.has(id)
      ? { text: state.sessions.get(id)!.name, href: href('s', id) }
      : (names.get(id) ?? 'a session');
const project = (id: string, names: Names): Part =>
  state.projects.has(id) ? { text: state.projects.get(id)!.name, href: href('p', id) } : (names.get(id) ?? 'a project');
const quote = (text: string) => `“${text.length > 120 ? `${text.slice(0, 119)}…` : text}”`;

const TASK_STATUS: Record<string, string> = {
  completed: 'completed',
  in_progress: 'started',
  blocked: 'is blocked on',
  cancelled: 'cancelled',
  todo: 'put back',
};
const SESSION_STATUS: Record<string, string> = {
  working: 'is working',
  idle: 'is idle',
  completed: 'finished',
  failed: 'failed',
  stopped: 'was stopped',
  blocked: 'is blocked',
  spawning: 'is starting',
};
/** What a fresh timeline entry says (a report, §3.4), keyed by its type. */
const TIMELINE: Record<string, string> = {
  needs_input: 'is waiting for input',
  task_blocked: 'is blocked',
  task_completed: 'completed',
  task_failed: 'failed',
  progress: 'reported',
  milestone: 'reached a milestone',
  error: 'hit an error',
};

/**
 * Whether a `task:updated` changed the status. Live events carry the status before (`before`); one from the log does
 * not, and then only a start or completion stamped by this very update counts.
 */
function statusChanged(e: Envelope): boolean {
  const d = e.data;
  if (!TASK_STATUS[d.status]) return false;
  if (e.before !== undefined) return e.before !== d.status;
  const stamp = d.status === 'completed' ? d.completedAt : d.status === 'in_progress' ? d.startedAt : null;
  return typeof stamp === 'number' && Math.abs(stamp - d.updatedAt) < 1000;
}

/** Remembers the names an event carries (call it oldest first, before describing). */
export function learnNames(e: Envelope, names: Names): void {
  const d = e.data ?? {};
  const entity = d.session ?? d.subtask ?? d;
  const name = entity.title ?? entity.name;
  if (typeof entity.id === 'string' && typeof name === 'string') names.set(entity.id, name);
}

export function describe(e: Envelope, names: Names): Sentence | null {
  const d = e.data ?? {};
  switch (e.type) {
    case 'project:created':
      return { kind: 'projects', parts: ['Project ', project(d.id, names), ' was created'] };
    case 'project:updated':
      return { kind: 'projects', parts: ['Project ', project(d.id, names), ' was changed'] };
    case 'project:deleted':
      return { kind: 'projects', parts: ['Project ', names.get(d.id) ?? 'a project', ' was deleted'] };
    case 'task:created':
      return { kind: 'tasks', parts: [task(d.id, names), ' was added to ', project(d.projectId, names)] };
    case 'task:updated': {
      if (!statusChanged(e)) return { kind: 'tasks', parts: [task(d.id, names), ' was updated'] };
      const who = d.claim?.sessionId ?? (d.sessionIds?.length === 1 ? d.sessionIds[0] : undefined);
      return who
        ? { kind: 'tasks', parts: [session(who, names), ` ${TASK_STATUS[d.status]} `, task(d.id, names)] }
        : { kind: 'tasks', parts: [task(d.id, names), ` is now ${d.status.replace(/_/g, ' ')}`] };
    }
    case 'task:ready':
      return { kind: 'tasks', parts: [task(d.id, names), ' is ready to start'] };
    case 'task:deleted':
      return { kind: 'tasks', parts: [names.get(d.id) ?? 'A task', ' was deleted'] };
    case 'task:claim_released':
      return {
        kind: 'tasks',
        parts: [session(d.sessionId, names), ' let go of ', task(d.taskId, names), ` (${String(d.reason).replace(/_/g, ' ')})`],
      };
    case 'task:session_added':
      return { kind: 'tasks', parts: [session(d.sessionId, names), ' took on ', task(d.taskId, names)] };
    case 'task:session_removed':
      return { kind: 'tasks', parts: [session(d.sessionId, names), ' dropped ', task(d.taskId, names)] };
    case 'session:created':
      return { kind: 'sessions', parts: [session(d.id, names), ' was created'] };
    case 'session:spawn': {
      const s = d.session ?? {};
      const on = s.host ? ` on ${s.host}` : '';
      return { kind: 'sessions', parts: [session(s.id, names), ` was spawned${on}${s.agent ? ` (${s.agent})` : ''}`] };
    }
    case 'session:updated': {
      if (e.before && e.before !== d.status && SESSION_STATUS[d.status])
        return { kind: 'sessions', parts: [session(d.id, names), ` ${SESSION_STATUS[d.status]}`] };
      const last = d.timeline?.[d.timeline.length - 1];
      // Only an entry written by this very change: older ones were told when they came.
      // A change of attention to needs_input writes this entry too, and `session:attention` tells it (§21).
      const attention = last?.type === 'needs_input' && d.attention?.state === 'needs_input' && d.attention.since === last.timestamp;
      if (last && TIMELINE[last.type] && !attention && Math.abs(last.timestamp - e.timestamp) < 1000) {
        const about = last.taskId ? [' ', task(last.taskId, names)] : [];
        return {
          kind: 'sessions',
          parts: [session(d.id, names), ` ${TIMELINE[last.type]}`, ...about, last.message ? `: ${quote(last.message)}` : ''],
        };
      }
      return null;
    }
    case 'session:attention': {
      const a = d.attention ?? {};
      const what =
        a.state === 'needs_input'
          ? 'is waiting for input'
          : a.state === 'idle'
            ? 'is idle, waiting for its next instruction'
            : 'is working';
      return {
        kind: 'sessions',
        parts: [session(d.sessionId, names), ` ${what}`, a.reason && a.state !== 'working' ? `: ${quote(a.reason)}` : ''],
      };
    }
    case 'session:deleted':
      return { kind: 'sessions', parts: [names.get(d.id) ?? 'A session', ' was deleted'] };
    case 'host:online':
      return { kind: 'hosts', parts: [{ text: d.name, href: '#/hosts' }, ' came online'] };
    case 'host:offline':
      return { kind: 'hosts', parts: [{ text: d.name, href: '#/hosts' }, ' went offline'] };
    case 'host:deleted':
      return { kind: 'hosts', parts: [`Host ${d.name} was removed`] };
    case 'message:created':
      return {
        kind: 'messages',
        parts: [session(d.from, names), ' wrote to ', session(d.to, names), `: ${quote(String(d.message ?? ''))}`],
      };
    case 'message:read':
      return { kind: 'messages', parts: [session(d.to, names), ' read the message from ', session(d.from, names)] };
    case 'message:failed':
    case 'message:expired':
      return {
        kind: 'messages',
        parts: ['A message to ', session(d.to, names), ` ${e.type === 'message:failed' ? 'could not be delivered' : 'expired unread'}`],
      };
    case 'session:spawn_request':
    case 'session:task_added':
    case 'session:task_removed':
    case 'session:message_sent':
    case 'session:message_received':
    case 'message:delivered':
    case 'message:deleted':
    case 'subtask:created':
    case 'subtask:updated':
    case 'subtask:deleted':
      return null;
    default: {
      const kind = e.type.split(':')[0]!;
      return { kind: kind === 'queue' ? 'sessions' : 'tasks', parts: [e.type.replace(/[:_]/g, ' ')] };
    }
  }
}

/** Who did it (contract §23), as the feed and timelines say it; undefined when the server did not say. */
export function actorText(actor: Actor | undefined): string | undefined {
  if (!actor) return undefined;
  switch (actor.kind) {
    case 'admin':
      return 'the admin';
    case 'user':
      return actor.name ?? 'a person';
    case 'session':
      return actor.name ?? actor.id ?? 'a session';
    case 'runner':
      return actor.name ? `runner ${actor.name}` : 'a runner';
    case 'system':
      return 'Maestro';
  }
}
