// Loading stored files of any earlier layout: each file checked, and what older versions left out filled in (contract §5).
import { isId } from '../ids.js';
import { idOf, type Kind } from './engine.js';

export interface Loaded {
  id: string;
  entity: any;
  /** Creation time, for a stable order. */
  order: number;
  /** Changed while loading, so it must be saved again. */
  migrated: boolean;
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);

/** The field that orders each kind's entities as they load (`createdAt` unless named here; none for deliveries). */
const ORDER_FIELD: Partial<Record<Kind, string | null>> = { hosts: 'lastSeen', history: 'order', sessions: 'startedAt', deliveries: null };

/** Where an entity comes in its kind's load order. */
export function orderOf(kind: Kind, value: Record<string, any>): number {
  const field = ORDER_FIELD[kind];
  return field === null ? 0 : num(value[field ?? 'createdAt'], 0);
}

/**
 * An entity the server itself wrote in its current form (the snapshot's): taken as it is, without the checks and
 * fills of `normalizeLoaded`.
 */
export const trustedLoaded = (kind: Kind, entity: any): Loaded => ({
  id: idOf(kind, entity),
  entity,
  order: orderOf(kind, entity),
  migrated: false,
});

/**
 * Checks a parsed file and fills what older versions left out (contract §5). Returns undefined for a file that
 * is not an entity of its kind, or whose IDs could not be used as storage keys.
 */
export function normalizeLoaded(kind: Kind, value: unknown): Loaded | undefined {
  if (!isObject(value)) return undefined;
  if (kind === 'hosts') {
    return typeof value.name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value.name)
      ? { id: value.name, entity: value, order: orderOf(kind, value), migrated: false }
      : undefined;
  }
  const id = kind === 'queues' || kind === 'secrets' || kind === 'deliveries' ? value.sessionId : value.id;
  if (!isId(id)) return undefined;
  switch (kind) {
    case 'secrets':
      return typeof value.tokenHash === 'string' ? { id, entity: value, order: orderOf(kind, value), migrated: false } : undefined;
    case 'history':
      return isId(value.sessionId) && isObject(value.entry) && typeof value.order === 'number'
        ? { id, entity: value, order: orderOf(kind, value), migrated: false }
        : undefined;
    case 'deliveries':
      return Array.isArray(value.marks) ? { id, entity: value, order: orderOf(kind, value), migrated: false } : undefined;
    case 'tokens':
      return typeof value.tokenHash === 'string' && typeof value.name === 'string' && ['admin', 'member', 'viewer'].includes(value.role)
        ? { id, entity: value, order: orderOf(kind, value), migrated: false }
        : undefined;
    case 'projects':
    case 'templates':
      return { id, entity: value, order: orderOf(kind, value), migrated: false };
    case 'messages':
      return isId(value.to) && typeof value.message === 'string' && isObject(value.metadata)
        ? { id, entity: value, order: orderOf(kind, value), migrated: false }
        : undefined;
    case 'queues':
      return Array.isArray(value.items) ? { id, entity: value, order: orderOf(kind, value), migrated: false } : undefined;
    case 'tasks': {
      if (!isId(value.projectId)) return undefined;
      // Filled in place, not copied: at startup every task passes through here, and a copy per file doubles the
      // garbage of loading. Existing keys keep their place, so the stored form is as before.
      const task = value;
      task.parentId = typeof value.parentId === 'string' ? value.parentId : null;
      task.title = str(value.title, '');
      task.description = str(value.description, '');
      task.status = value.status === 'pending' ? 'todo' : str(value.status, 'todo');
      task.priority = str(value.priority, 'medium');
      task.createdAt = num(value.createdAt, 0);
      task.updatedAt = num(value.updatedAt, task.createdAt);
      task.startedAt = typeof value.startedAt === 'number' ? value.startedAt : null;
      task.completedAt = typeof value.completedAt === 'number' ? value.completedAt : null;
      task.initialPrompt = str(value.initialPrompt, '');
      for (const list of ['sessionIds', 'skillIds', 'agentIds', 'dependencies']) task[list] = strings(value[list]);
      // Derived fields are never stored; a claim that is not one (hand-edited file) is dropped.
      for (const key of ['sessionCount', 'blockedBy', 'ready']) delete task[key];
      const claim = value.claim;
      if (
        claim !== undefined &&
        !(isObject(claim) && isId(claim.sessionId) && typeof claim.expiresAt === 'number' && typeof claim.leaseMs === 'number')
      ) {
        delete task.claim;
      }
      return { id, entity: task, order: orderOf(kind, task), migrated: false };
    }
    case 'sessions': {
      if (!isId(value.projectId)) return undefined;
      const migrated =
        !Array.isArray(value.taskIds) ||
        typeof value.name !== 'string' ||
        !isObject(value.env) ||
        !Array.isArray(value.events) ||
        !Array.isArray(value.timeline) ||
        typeof value.strategy !== 'string' ||
        'taskId' in value ||
        value.status === 'running';
      const session = value;
      const { taskId } = value;
      if ('taskId' in session) delete session.taskId;
      session.taskIds = Array.isArray(value.taskIds) ? strings(value.taskIds) : typeof taskId === 'string' ? [taskId] : [];
      session.name = str(value.name, `Session ${id}`);
      session.env = isObject(value.env) ? value.env : {};
      session.events = Array.isArray(value.events) ? value.events : [];
      session.timeline = Array.isArray(value.timeline) ? value.timeline : [];
      session.strategy = str(value.strategy, 'simple');
      session.status = value.status === 'running' ? 'working' : str(value.status, 'idle');
      session.host = typeof value.host === 'string' ? value.host : null;
      session.agent = typeof value.agent === 'string' ? value.agent : null;
      session.run = isObject(value.run) ? value.run : null;
      session.attention = isObject(value.attention) ? value.attention : null;
      session.workspace = isObject(value.workspace) ? value.workspace : null;
      return { id, entity: session, order: orderOf(kind, session), migrated };
    }
  }
}
