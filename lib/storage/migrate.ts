import { isId } from '../ids.js';
import type { Kind } from '../db.js';

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

/**
 * Checks a parsed file and fills what older versions left out (contract §5). Returns undefined for a file that
 * is not an entity of its kind, or whose IDs could not be used as storage keys.
 */
export function normalizeLoaded(kind: Kind, value: unknown): Loaded | undefined {
  if (!isObject(value)) return undefined;
  if (kind === 'hosts') {
    return typeof value.name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value.name)
      ? { id: value.name, entity: value, order: num(value.lastSeen, 0), migrated: false }
      : undefined;
  }
  const id = kind === 'queues' || kind === 'secrets' ? value.sessionId : value.id;
  if (!isId(id)) return undefined;
  switch (kind) {
    case 'secrets':
      return typeof value.tokenHash === 'string' ? { id, entity: value, order: num(value.createdAt, 0), migrated: false } : undefined;
    case 'projects':
    case 'templates':
      return { id, entity: value, order: num(value.createdAt, 0), migrated: false };
    case 'queues':
      return Array.isArray(value.items)
        ? { id, entity: value, order: num(value.createdAt, 0), migrated: false }
        : undefined;
    case 'tasks': {
      if (!isId(value.projectId)) return undefined;
      const task = {
        ...value,
        parentId: typeof value.parentId === 'string' ? value.parentId : null,
        title: str(value.title, ''),
        description: str(value.description, ''),
        status: value.status === 'pending' ? 'todo' : str(value.status, 'todo'),
        priority: str(value.priority, 'medium'),
        createdAt: num(value.createdAt, 0),
        updatedAt: num(value.updatedAt, num(value.createdAt, 0)),
        startedAt: typeof value.startedAt === 'number' ? value.startedAt : null,
        completedAt: typeof value.completedAt === 'number' ? value.completedAt : null,
        initialPrompt: str(value.initialPrompt, ''),
        sessionIds: strings(value.sessionIds),
        skillIds: strings(value.skillIds),
        agentIds: strings(value.agentIds),
        dependencies: strings(value.dependencies),
      };
      delete (task as { sessionCount?: unknown }).sessionCount;
      return { id, entity: task, order: task.createdAt, migrated: false };
    }
    case 'sessions': {
      if (!isId(value.projectId)) return undefined;
      const migrated =
        !Array.isArray(value.taskIds) || typeof value.name !== 'string' || !isObject(value.env) ||
        !Array.isArray(value.events) || !Array.isArray(value.timeline) || typeof value.strategy !== 'string' ||
        'taskId' in value || value.status === 'running';
      const { taskId, ...rest } = value;
      const session = {
        ...rest,
        taskIds: Array.isArray(value.taskIds) ? strings(value.taskIds) : typeof taskId === 'string' ? [taskId] : [],
        name: str(value.name, `Session ${id}`),
        env: isObject(value.env) ? value.env : {},
        events: Array.isArray(value.events) ? value.events : [],
        timeline: Array.isArray(value.timeline) ? value.timeline : [],
        strategy: str(value.strategy, 'simple'),
        status: value.status === 'running' ? 'working' : str(value.status, 'idle'),
        host: typeof value.host === 'string' ? value.host : null,
        agent: typeof value.agent === 'string' ? value.agent : null,
        run: isObject(value.run) ? value.run : null,
      };
      return { id, entity: session, order: num(value.startedAt, 0), migrated };
    }
  }
}
