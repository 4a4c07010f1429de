/** One task (contract §2.2, §18): description, dependencies both ways, subtasks, sessions and timeline; edit, spawn, delete. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { SpawnRequest } from '../main';
import { mayChange, state } from '../store';
import type { Task } from '../types';
import { Badge, clock, Missing, statusLabel } from '../util';
import { ConfirmButton } from './Confirm';
import { TaskBadges } from './Project';
import { SessionRow } from './Sessions';
import { TaskDialog } from './TaskDialog';

const link = (t: Task) => (
  <li key={t.id}>
    <a href={`#/t/${encodeURIComponent(t.id)}`}>{t.title}</a> <Badge kind={`st-${t.status}`}>{statusLabel(t.status)}</Badge>
  </li>
);

function TaskList({ label, tasks }: { label: string; tasks: Task[] }) {
  if (tasks.length === 0) return null;
  return (
    <section aria-label={label}>
      <h2>{label}</h2>
      <ul class="plain">{tasks.map(link)}</ul>
    </section>
  );
}

/** The task's own dates and what its sessions wrote about it, newest first. */
function timelineOf(task: Task) {
  const entries: { key: string; at: number; what: string; message?: string; sessionId?: string }[] = [
    { key: 'created', at: task.createdAt, what: 'created' },
  ];
  if (task.startedAt) entries.push({ key: 'started', at: task.startedAt, what: 'started' });
  if (task.completedAt) entries.push({ key: 'completed', at: task.completedAt, what: 'completed' });
  for (const s of state.sessions.values())
    for (const t of s.timeline)
      if (t.taskId === task.id)
        entries.push({ key: t.id, at: t.timestamp, what: t.type.replace(/_/g, ' '), message: t.message, sessionId: s.id });
  return entries.sort((a, b) => b.at - a.at);
}

export function TaskView({ id, openSpawn }: { id: string; openSpawn: (r: SpawnRequest) => void }) {
  const task = state.tasks.get(id);
  const [editing, setEditing] = useState(false);
  if (!task) return <Missing what="task" list="Projects" href="#/" />;
  const project = state.projects.get(task.projectId);
  const tasks = [...state.tasks.values()];
  const known = (ids: string[]) => ids.map((d) => state.tasks.get(d)).filter((t): t is Task => t !== undefined);
  const parent = task.parentId ? state.tasks.get(task.parentId) : undefined;
  const sessions = task.sessionIds.map((s) => state.sessions.get(s)).filter((s) => s !== undefined);
  const open = task.status !== 'completed' && task.status !== 'cancelled';
  return (
    <section aria-labelledby="task-title" class="stack">
      <p class="muted small">
        {project ? <a href={`#/p/${encodeURIComponent(project.id)}`}>{project.name}</a> : 'No project'}
        {parent && (
          <>
            {' › '}
            <a href={`#/t/${encodeURIComponent(parent.id)}`}>{parent.title}</a>
          </>
        )}
      </p>
      <div class="title-row">
        <h1 id="task-title">{task.title}</h1>
        <Badge kind={`st-${task.status}`}>{statusLabel(task.status)}</Badge>
        <TaskBadges task={task} />
        {/* A viewer only watches (§23): no control that would be refused. */}
        {mayChange() && (
          <>
            <button type="button" onClick={() => setEditing(true)}>
              Edit task…
            </button>
            {open && (
              <button type="button" onClick={() => openSpawn({ projectId: task.projectId, taskIds: [task.id] })}>
                Spawn agent for this task…
              </button>
            )}
            <ConfirmButton
              label="Delete task"
              title={`Delete ${task.title}?`}
              action="Delete task"
              question={<p>Its subtasks stay, without a parent; sessions that worked on it keep their history.</p>}
              act={async () => {
                await api('DELETE', `/api/tasks/${encodeURIComponent(task.id)}`);
                location.hash = `#/p/${encodeURIComponent(task.projectId)}`;
              }}
            />
          </>
        )}
      </div>
      {task.description ? <p class="description">{task.description}</p> : <p class="muted">No description.</p>}
      <div class="split">
        <div>
          <TaskList label="Depends on" tasks={known(task.dependencies ?? [])} />
          <TaskList label="Needed by" tasks={tasks.filter((t) => t.dependencies?.includes(task.id))} />
          <TaskList label="Subtasks" tasks={tasks.filter((t) => t.parentId === task.id)} />
          <section aria-label="Sessions">
            <h2>Sessions</h2>
            {sessions.length === 0 ? (
              <p class="muted small">No agent has worked on it yet.</p>
            ) : (
              <ul class="plain">
                {sessions.map((s) => (
                  <SessionRow key={s.id} s={s} />
                ))}
              </ul>
            )}
          </section>
        </div>
        <section aria-labelledby="task-timeline">
          <h2 id="task-timeline">Timeline</h2>
          <ol class="timeline">
            {timelineOf(task).map((e) => (
              <li key={e.key}>
                <time class="muted small">{clock(e.at)}</time> <Badge>{e.what}</Badge>{' '}
                {e.sessionId && <a href={`#/s/${encodeURIComponent(e.sessionId)}`}>{state.sessions.get(e.sessionId)?.name}</a>}
                {e.message && `: ${e.message}`}
              </li>
            ))}
          </ol>
        </section>
      </div>
      {editing && mayChange() && <TaskDialog projectId={task.projectId} task={task} onClose={() => setEditing(false)} />}
    </section>
  );
}
