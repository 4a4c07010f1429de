import type { Message, Project, QueueItem, Session, TaskView, TimelineEntry } from '../domain/types.js';

/** Human-readable output of the CLI. Plain text, one record per line, stable enough to grep. */

const time = (ms: number | null | undefined) => (typeof ms === 'number' ? new Date(ms).toISOString() : '-');
const fields = (rows: [string, unknown][]) => {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
};
const empty = (what: string) => `No ${what}.`;

export const projectLine = (p: Project) => `${p.id}  ${p.name}${p.workingDir ? `  (${p.workingDir})` : ''}`;
export const projectList = (ps: Project[]) => (ps.length ? ps.map(projectLine).join('\n') : empty('projects'));
export const projectDetails = (p: Project) =>
  fields([
    ['ID', p.id],
    ['Name', p.name],
    ['Working dir', p.workingDir || '-'],
    ['Description', p.description || '-'],
    ['Created', time(p.createdAt)],
    ['Updated', time(p.updatedAt)],
  ]);

export const taskLine = (t: TaskView) =>
  `${t.id}  [${t.status}]${t.sessionStatus ? ` (${t.sessionStatus})` : ''}  ${t.priority}  ${t.title}`;
export const taskList = (ts: TaskView[]) => (ts.length ? ts.map(taskLine).join('\n') : empty('tasks'));
export const taskDetails = (t: TaskView) =>
  fields([
    ['ID', t.id],
    ['Title', t.title],
    ['Project', t.projectId],
    ['Parent', t.parentId ?? '-'],
    ['Status', t.status],
    ['Session status', t.sessionStatus ?? '-'],
    ['Priority', t.priority],
    ['Sessions', t.sessionIds.join(', ') || '-'],
    ['Depends on', t.dependencies?.join(', ') || '-'],
    ['Blocked by', t.blockedBy?.join(', ') || '-'],
    ['Ready', t.ready ? 'yes' : 'no'],
    ['Claim', t.claim ? `${t.claim.sessionId} until ${time(t.claim.expiresAt)}` : '-'],
    ['Created', time(t.createdAt)],
    ['Started', time(t.startedAt)],
    ['Completed', time(t.completedAt)],
    ['Description', t.description || '-'],
  ]);

/** Where a task stands in the graph (§18): `ready`, `blocked by …`, `claimed by … until …`; empty for none. */
export const graphMarks = (t: TaskView) =>
  [
    t.ready ? 'ready' : '',
    t.blockedBy?.length ? `blocked by ${t.blockedBy.join(', ')}` : '',
    t.claim ? `claimed by ${t.claim.sessionId} until ${time(t.claim.expiresAt)}` : '',
  ]
    .filter(Boolean)
    .map((m) => `  <${m}>`)
    .join('');
export const taskGraphLine = (t: TaskView) => `${taskLine(t)}${graphMarks(t)}`;

/** Tasks as a tree: roots first, each child indented under its parent; orphans (parent gone) count as roots. */
export function taskTree(tasks: TaskView[], rootIds?: string[]): string {
  const ids = new Set(tasks.map((t) => t.id));
  const children = new Map<string, TaskView[]>();
  for (const t of tasks) {
    const parent = t.parentId && ids.has(t.parentId) ? t.parentId : '';
    children.set(parent, [...(children.get(parent) ?? []), t]);
  }
  const lines: string[] = [];
  const seen = new Set<string>();
  const walk = (t: TaskView, prefix: string, last: boolean, depth: number) => {
    if (seen.has(t.id)) return; // a cycle in parentId; show each task once
    seen.add(t.id);
    lines.push(depth === 0 ? taskGraphLine(t) : `${prefix}${last ? '└─ ' : '├─ '}${taskGraphLine(t)}`);
    const kids = children.get(t.id) ?? [];
    const next = depth === 0 ? '' : `${prefix}${last ? '   ' : '│  '}`;
    kids.forEach((k, i) => walk(k, next, i === kids.length - 1, depth + 1));
  };
  const roots = rootIds ? tasks.filter((t) => rootIds.includes(t.id)) : (children.get('') ?? []);
  roots.forEach((r) => walk(r, '', true, 0));
  return lines.length ? lines.join('\n') : empty('tasks');
}

export const sessionLine = (s: Session) =>
  `${s.id}  [${s.status}]  ${s.name}  (${s.taskIds.length} task${s.taskIds.length === 1 ? '' : 's'})`;
export const sessionList = (ss: Session[]) => (ss.length ? ss.map(sessionLine).join('\n') : empty('sessions'));
export const timelineLine = (e: TimelineEntry) =>
  `${time(e.timestamp)}  ${e.type}${e.taskId ? ` [${e.taskId}]` : ''}${e.message ? `  ${e.message}` : ''}`;
export const timeline = (s: Session) => (s.timeline.length ? s.timeline.map(timelineLine).join('\n') : empty('timeline entries'));
export const sessionDetails = (s: Session) =>
  `${fields([
    ['ID', s.id],
    ['Name', s.name],
    ['Status', s.status],
    ['Project', s.projectId],
    ['Strategy', s.strategy],
    ['Tasks', s.taskIds.join(', ') || '-'],
    ['Host', `${s.hostname} (${s.platform})`],
    ['Runner', s.host ? `${s.host}: ${s.agent ?? '-'} agent, run ${s.run?.state ?? '-'}` : '-'],
    ['Started', time(s.startedAt)],
    ['Last activity', time(s.lastActivity)],
    ['Completed', time(s.completedAt)],
  ])}\n\nTimeline:\n${timeline(s)}`;

export const queueItemLine = (item: QueueItem, i: number) =>
  `${String(i + 1).padStart(3)}. ${item.taskId}  ${item.status}${item.failReason ? `  (${item.failReason})` : ''}`;
export const queueItems = (items: QueueItem[]) => (items.length ? items.map(queueItemLine).join('\n') : 'Queue is empty.');
export const queueStats = (s: Record<string, number>) =>
  `${s.total} total: ${s.queued} queued, ${s.processing} processing, ${s.completed} completed, ${s.failed} failed, ${s.skipped} skipped`;

/** A message: a header line, then its text indented (so a multi-line message stays readable and greppable). */
export const messageBlock = (m: Message) => {
  const tags = [
    m.metadata.type,
    m.metadata.priority,
    m.metadata.requiresAck && 'needs ack',
    m.metadata.taskId && `task ${m.metadata.taskId}`,
    m.metadata.replyTo && `reply to ${m.metadata.replyTo}`,
    m.failReason,
  ]
    .filter(Boolean)
    .join(', ');
  const text = m.message
    .trimEnd()
    .split(/\r?\n/)
    .map((line) => `    ${line}`)
    .join('\n');
  return `${m.id}  from ${m.from} to ${m.to}  [${m.status}]  ${tags}  ${time(m.createdAt)}\n${text}`;
};
export const messageList = (ms: Message[]) => (ms.length ? ms.map(messageBlock).join('\n') : empty('messages'));
/** What a hook puts in front of an agent: the new messages and how to answer them. */
export const newMessages = (ms: Message[]) =>
  `[maestro] ${ms.length} new message${ms.length === 1 ? '' : 's'}:\n${ms.map(messageBlock).join('\n')}\n` +
  'Reply: maestro session send --to <sender> --reply-to <msgId> --message "<text>"; acknowledge: maestro message read <msgId>';
