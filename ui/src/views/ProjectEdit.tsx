/** Editing and deleting a project (contract §3.2): name, working directory, description; delete asks first. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { Project } from '../types';
import { ErrorLine, Field, Modal, useAction } from '../util';
import { ConfirmButton } from './Confirm';

export function ProjectDialog({ project, onClose }: { project: Project; onClose: () => void }) {
  const [name, setName] = useState(project.name);
  const [workingDir, setWorkingDir] = useState(project.workingDir ?? '');
  const [description, setDescription] = useState(project.description ?? '');
  const { error, busy, run } = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { name, workingDir, description };
    if (await run(() => api('PUT', `/api/projects/${encodeURIComponent(project.id)}`, body))) onClose();
  };
  return (
    <Modal title="Edit project" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <Field label="Project name">
          {(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <Field label="Working directory">
          {(id) => <input id={id} value={workingDir} onInput={(e) => setWorkingDir(e.currentTarget.value)} />}
        </Field>
        <Field label="Description">
          {(id) => <textarea id={id} rows={3} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        <ErrorLine error={error} />
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Save project
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** The server refuses to delete a project that still has tasks or sessions; the dialog shows its reason. */
export const DeleteProject = ({ id, name }: { id: string; name: string }) => (
  <ConfirmButton
    label="Delete project"
    title={`Delete ${name}?`}
    action="Delete project"
    question={<p>Only a project without tasks and sessions can be deleted.</p>}
    act={async () => {
      await api('DELETE', `/api/projects/${encodeURIComponent(id)}`);
      location.hash = '#/';
    }}
  />
);
