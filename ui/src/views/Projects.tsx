import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { mayChange, state } from '../store';
import { isFinalSession } from '../types';
import { ErrorLine, Field, timeAgo, useAction } from '../util';

/** Every project with its task and live-session counts, and a form to create one. */
export function ProjectsView() {
  const counts = useMemo(() => {
    const c = new Map<string, { open: number; done: number; live: number }>();
    const get = (id: string) => c.get(id) ?? (c.set(id, { open: 0, done: 0, live: 0 }), c.get(id)!);
    for (const t of state.tasks.values()) {
      const entry = get(t.projectId);
      if (t.status === 'completed' || t.status === 'cancelled') entry.done++;
      else entry.open++;
    }
    for (const s of state.sessions.values()) if (!isFinalSession(s.status)) get(s.projectId).live++;
    return c;
  }, [state.version]);
  const [name, setName] = useState('');
  const [dir, setDir] = useState('');
  const { error, busy, run } = useAction();
  const projects = [...state.projects.values()];

  return (
    <section aria-labelledby="projects-title">
      <h1 id="projects-title">Projects</h1>
      {projects.length === 0 && <p class="muted">No projects yet.</p>}
      <ul class="cards">
        {projects.map((p) => {
          const c = counts.get(p.id) ?? { open: 0, done: 0, live: 0 };
          return (
            <li key={p.id} class="card">
              <a href={`#/p/${encodeURIComponent(p.id)}`} class="card-title">
                {p.name}
              </a>
              {p.description && <p>{p.description}</p>}
              <p class="muted small">
                {c.open} open · {c.done} done · {c.live} live session{c.live === 1 ? '' : 's'} · updated {timeAgo(p.updatedAt)}
              </p>
              {p.workingDir && <p class="mono small">{p.workingDir}</p>}
            </li>
          );
        })}
      </ul>
      {mayChange() && (
        <form
          class="inline-form"
          aria-label="New project"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await run(() => api('POST', '/api/projects', { name, workingDir: dir }))) {
              setName('');
              setDir('');
            }
          }}
        >
          <Field label="Project name">
            {(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Field label="Working directory">
            {(id) => <input id={id} value={dir} placeholder="/path/to/repo" onInput={(e) => setDir(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary" disabled={busy}>
            Create project
          </button>
          <ErrorLine error={error} />
        </form>
      )}
    </section>
  );
}
