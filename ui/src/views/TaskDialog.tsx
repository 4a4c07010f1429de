import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { state } from '../store';
import { type Priority, TASK_STATUSES, type Task, type TaskStatus } from '../types';
import { ErrorLine, Field, Modal, statusLabel, useAction } from '../util';

/** Only the fields the user changed, so an edit never rewrites what it did not touch. */
function changes(task: Task, edited: Partial<Task>): Partial<Task> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(edited)) {
    if (JSON.stringify(value) !== JSON.stringify(task[key as keyof Task] ?? (key === 'dependencies' ? [] : undefined))) out[key] = value;
  }
  return out;
}

/** Creates a task (with parent and dependencies) or edits one (title, description, status, priority, dependencies). */
export function TaskDialog({ projectId, task, onClose }: { projectId: string; task: Task | null; onClose: () => void }) {
  const [title, setTitle] = useState(task?.title ?? '');
  const [description, setDescription] = useState(task?.description ?? '');
  const [priority, setPriority] = useState<Priority>(task?.priority ?? 'medium');
  const [status, setStatus] = useState<TaskStatus>(task?.status ?? 'todo');
  const [parentId, setParentId] = useState('');
  const [deps, setDeps] = useState<string[]>(task?.dependencies ?? []);
  const { error, busy, run } = useAction();
  const others = useMemo(
    () => [...state.tasks.values()].filter((t) => t.projectId === projectId && t.id !== task?.id),
    [state.version, projectId],
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await run(() =>
      task
        ? api(
            'PATCH',
            `/api/tasks/${encodeURIComponent(task.id)}`,
            changes(task, { title, description, priority, status, dependencies: deps }),
          )
        : api('POST', '/api/tasks', {
            projectId,
            title,
            description,
            priority,
            ...(parentId ? { parentId } : {}),
            ...(deps.length ? { dependencies: deps } : {}),
          }),
    );
    if (ok) onClose();
  };

  return (
    <Modal title={task ? 'Edit task' : 'New task'} onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <Field label="Title">{(id) => <input id={id} required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />}</Field>
        <Field label="Description">
          {(id) => <textarea id={id} rows={4} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        <div class="row">
          <Field label="Priority">
            {(id) => (
              <select id={id} value={priority} onChange={(e) => setPriority(e.currentTarget.value as Priority)}>
                <option value="low">low</option>
                <option value="medium">medium</option>
                <option value="high">high</option>
              </select>
            )}
          </Field>
          {task ? (
            <Field label="Status">
              {(id) => (
                <select id={id} value={status} onChange={(e) => setStatus(e.currentTarget.value as TaskStatus)}>
                  {TASK_STATUSES.map((s) => (
                    <option value={s}>{statusLabel(s)}</option>
                  ))}
                </select>
              )}
            </Field>
          ) : (
            <Field label="Parent task">
              {(id) => (
                <select id={id} value={parentId} onChange={(e) => setParentId(e.currentTarget.value)}>
                  <option value="">(none — a root task)</option>
                  {others.map((t) => (
                    <option value={t.id}>{t.title}</option>
                  ))}
                </select>
              )}
            </Field>
          )}
        </div>
        <Field label="Depends on" hint="Ctrl- or Shift-click to choose several.">
          {(id) => (
            <select
              id={id}
              multiple
              size={Math.min(6, Math.max(2, others.length))}
              onChange={(e) => setDeps([...e.currentTarget.selectedOptions].map((o) => o.value))}
            >
              {others.map((t) => (
                <option value={t.id} selected={deps.includes(t.id)}>
                  {t.title}
                </option>
              ))}
            </select>
          )}
        </Field>
        <ErrorLine error={error} />
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {task ? 'Save task' : 'Create task'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
