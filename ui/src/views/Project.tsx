import { Component } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import type { SpawnRequest } from '../main';
import { mayChange, state } from '../store';
import { isFinalSession, type Session, TASK_STATUSES, type Task } from '../types';
import { Badge, ErrorLine, Field, Missing, useAction } from '../util';
import { AttentionBadge } from './NeedsYou';
import { DeleteProject, ProjectDialog } from './ProjectEdit';
import { TaskDialog } from './TaskDialog';

const COLUMN_TITLE: Record<string, string> = {
  todo: 'To do',
  in_progress: 'In progress',
  blocked: 'Blocked',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

/** A project: its tasks as a board (one column per status) or as a tree, with create, edit and complete. */
export function ProjectView({ id, tab, openSpawn }: { id: string; tab: 'board' | 'tree'; openSpawn: (r: SpawnRequest) => void }) {
  const project = state.projects.get(id);
  const tasks = useMemo(() => [...state.tasks.values()].filter((t) => t.projectId === id), [state.version, id]);
  const [editing, setEditing] = useState<Task | 'new' | null>(null);
  const [title, setTitle] = useState('');
  const { error, busy, run } = useAction();
  const [editingProject, setEditingProject] = useState(false);
  if (!project) return <Missing what="project" list="Projects" href="#/" />;

  const complete = (t: Task) => run(() => api('PATCH', `/api/tasks/${encodeURIComponent(t.id)}`, { status: 'completed' }));
  const base = `#/p/${encodeURIComponent(id)}`;
  return (
    <section aria-labelledby="project-title">
      <div class="title-row">
        <h1 id="project-title">{project.name}</h1>
        <nav aria-label="Project views" class="tabs">
          <a href={base} aria-current={tab === 'board' ? 'page' : undefined}>
            Board
          </a>
          <a href={`${base}/tree`} aria-current={tab === 'tree' ? 'page' : undefined}>
            Tree
          </a>
        </nav>
        {mayChange() && (
          <>
            <button type="button" onClick={() => setEditing('new')}>
              New task…
            </button>
            <button type="button" onClick={() => openSpawn({ projectId: id })}>
              Spawn for this project…
            </button>
            <button type="button" onClick={() => setEditingProject(true)}>
              Edit project…
            </button>
            <DeleteProject id={id} name={project.name} />
          </>
        )}
      </div>
      {project.description && <p>{project.description}</p>}
      {mayChange() && (
        <form
          class="inline-form"
          aria-label="Quick add task"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await run(() => api('POST', '/api/tasks', { projectId: id, title }))) setTitle('');
          }}
        >
          <Field label="Task title">
            {(id) => <input id={id} required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary" disabled={busy}>
            Add task
          </button>
        </form>
      )}
      <ErrorLine error={error} />
      {tab === 'board' ? (
        <Board tasks={tasks} onEdit={setEditing} onComplete={complete} />
      ) : (
        <Tree tasks={tasks} onEdit={setEditing} onComplete={complete} />
      )}
      {editingProject && <ProjectDialog project={project} onClose={() => setEditingProject(false)} />}
      {editing && <TaskDialog projectId={id} task={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
    </section>
  );
}

type Actions = { onEdit: (t: Task) => void; onComplete: (t: Task) => void };

/** Cards a column shows before a "show all" button: a huge project still draws its board at once. */
const COLUMN_LIMIT = 150;
const PRIORITY_RANK = { high: 0, medium: 1, low: 2 };

function Board({ tasks, onEdit, onComplete }: { tasks: Task[] } & Actions) {
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const columns = useMemo(() => {
    const by = new Map<string, Task[]>(TASK_STATUSES.map((s) => [s, []]));
    for (const t of tasks) (by.get(t.status) ?? by.get('todo')!).push(t);
    for (const list of by.values()) list.sort((a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.createdAt - b.createdAt);
    return by;
  }, [tasks]);
  return (
    <div class="board">
      {TASK_STATUSES.map((status) => {
        const list = columns.get(status)!;
        return (
          <section key={status} class="column" aria-label={`${COLUMN_TITLE[status]} (${list.length})`} data-status={status}>
            <h2>
              {COLUMN_TITLE[status]} <span class="muted">{list.length}</span>
            </h2>
            <ul>
              {(expanded.has(status) ? list : list.slice(0, COLUMN_LIMIT)).map((t) => (
                <TaskCard key={t.id} task={t} attention={attentionKey(t)} onEdit={onEdit} onComplete={onComplete} />
              ))}
            </ul>
            {list.length > COLUMN_LIMIT && !expanded.has(status) && (
              <button type="button" class="small more" onClick={() => setExpanded(new Set([...expanded, status]))}>
                Show all {list.length} in {COLUMN_TITLE[status]}
              </button>
            )}
          </section>
        );
      })}
    </div>
  );
}

/** The task's sessions still running with an attention state: each shows its badge on the card (§21). */
const liveSessions = (task: Task): Session[] =>
  task.sessionIds.flatMap((id) => {
    const s = state.sessions.get(id);
    return s?.attention && !isFinalSession(s.status) ? [s] : [];
  });

/** What a card shows of its sessions' attention, as a string that changes when a badge would. */
const attentionKey = (task: Task) =>
  liveSessions(task)
    .map((s) => `${s.id}:${s.attention!.state}:${s.attention!.reason ?? ''}`)
    .join(' ');

/** The badges that tell whether a task can be taken: ready, claimed, blocked by open dependencies (§18). */
export function TaskBadges({ task }: { task: Task }) {
  const blocked = task.blockedBy?.length ?? 0;
  return (
    <>
      {task.priority !== 'medium' && <Badge kind={`prio-${task.priority}`}>{task.priority}</Badge>}
      {task.ready && <Badge kind="ok">ready</Badge>}
      {task.claim && task.status !== 'completed' && task.status !== 'cancelled' && (
        <Badge kind="info" title={`Claimed by ${state.sessions.get(task.claim.sessionId)?.name ?? 'a session'}`}>
          claimed
        </Badge>
      )}
      {blocked > 0 && (
        <Badge kind="warn" title={task.blockedBy!.map((d) => state.tasks.get(d)?.title ?? d).join(', ')}>
          blocked by {blocked}
        </Badge>
      )}
      {task.sessionIds.length > 0 && (
        <Badge>
          {task.sessionIds.length} session{task.sessionIds.length === 1 ? '' : 's'}
        </Badge>
      )}
      {liveSessions(task).map((s) => (
        <span key={s.id} class="task-attention" title={s.name}>
          <AttentionBadge s={s} />
        </span>
      ))}
    </>
  );
}

/** One task on the board; re-renders only when its own task object or its sessions' attention changes. */
class TaskCard extends Component<{ task: Task; attention: string } & Actions> {
  override shouldComponentUpdate(next: { task: Task; attention: string }) {
    return next.task !== this.props.task || next.attention !== this.props.attention;
  }
  override render() {
    const { task, onEdit, onComplete } = this.props;
    const done = task.status === 'completed';
    return (
      <li class="task">
        <a class="task-title" href={`#/t/${encodeURIComponent(task.id)}`}>
          {task.title}
        </a>
        {task.parentId && state.tasks.has(task.parentId) && <span class="muted small">in {state.tasks.get(task.parentId)!.title}</span>}
        <div class="badges">
          <TaskBadges task={task} />
        </div>
        {mayChange() && (
          <div class="task-actions">
            <button type="button" class="small" aria-label={`Edit ${task.title}`} onClick={() => onEdit(task)}>
              Edit
            </button>
            {!done && (
              <button type="button" class="small" aria-label={`Complete ${task.title}`} onClick={() => onComplete(task)}>
                Complete
              </button>
            )}
          </div>
        )}
      </li>
    );
  }
}

function Tree({ tasks, onEdit, onComplete }: { tasks: Task[] } & Actions) {
  const { roots, children } = useMemo(() => {
    const ids = new Set(tasks.map((t) => t.id));
    const children = new Map<string, Task[]>();
    const roots: Task[] = [];
    for (const t of tasks) {
      if (t.parentId && ids.has(t.parentId) && t.parentId !== t.id) {
        const list = children.get(t.parentId) ?? [];
        list.push(t);
        children.set(t.parentId, list);
      } else roots.push(t);
    }
    return { roots, children };
  }, [tasks]);
  const seen = new Set<string>();
  const node = (t: Task) => {
    if (seen.has(t.id)) return null; // parent links are not checked for cycles (§2.2)
    seen.add(t.id);
    const kids = children.get(t.id) ?? [];
    const deps = t.dependencies ?? [];
    const row = (
      <div class="tree-row">
        <Badge kind={`st-${t.status}`}>{t.status.replace('_', ' ')}</Badge>
        <a class="task-title" href={`#/t/${encodeURIComponent(t.id)}`}>
          {t.title}
        </a>
        <TaskBadges task={t} />
        {deps.length > 0 && <span class="muted small">depends on {deps.map((d) => state.tasks.get(d)?.title ?? d).join(', ')}</span>}
        {mayChange() && (
          <>
            <button type="button" class="small" aria-label={`Edit ${t.title}`} onClick={() => onEdit(t)}>
              Edit
            </button>
            {t.status !== 'completed' && (
              <button type="button" class="small" aria-label={`Complete ${t.title}`} onClick={() => onComplete(t)}>
                Complete
              </button>
            )}
          </>
        )}
      </div>
    );
    return (
      <li key={t.id}>
        {row}
        {kids.length > 0 && (
          <details open>
            <summary>
              {kids.length} subtask{kids.length === 1 ? '' : 's'} of {t.title}
            </summary>
            <ul>{kids.map(node)}</ul>
          </details>
        )}
      </li>
    );
  };
  return roots.length ? (
    <ul class="tree" aria-label="Task tree">
      {roots.map(node)}
    </ul>
  ) : (
    <p class="muted">No tasks yet.</p>
  );
}
