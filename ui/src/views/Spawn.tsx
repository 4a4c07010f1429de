import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import type { SpawnRequest } from '../main';
import { state } from '../store';
import { isFinalSession, type Session, type Task } from '../types';
import { ErrorLine, Field, Modal, useAction } from '../util';

const PRESETS = ['claude', 'codex', 'gemini', 'shell', 'custom'];

/**
 * The live session holding `t`, as the server sees it (a claim not lapsed, by a session not ended): a spawn for the
 * task would be refused with TASK_CLAIMED (§24.7), so the task is shown but cannot be chosen.
 */
function holder(t: Task): Session | undefined {
  if (!t.claim || t.claim.expiresAt <= Date.now()) return undefined;
  const s = state.sessions.get(t.claim.sessionId);
  return s && !isFinalSession(s.status) ? s : undefined;
}

/** What a task's option says besides its title, so a blocked or taken task is not chosen by mistake. */
function taskNote(t: Task): string {
  const blockers = (t.blockedBy ?? []).map((d) => state.tasks.get(d)?.title ?? d);
  const notes = [];
  if (blockers.length) notes.push(`blocked by ${blockers.join(', ')}`);
  else if (t.status === 'blocked') notes.push('blocked');
  const taker = holder(t);
  if (taker) notes.push(`taken by ${taker.name}`);
  return notes.length ? ` (${notes.join('; ')})` : '';
}

/** Why Spawn cannot be pressed yet, or null. */
function missing(projectId: string, taskIds: string[], agents: string[]): string | null {
  if (!projectId) return 'Create a project first.';
  if (taskIds.length === 0) return 'Choose at least one task.';
  // Chosen before the dialog opened (a task's "Spawn agent for this task…"), or taken since.
  for (const t of taskIds.map((id) => state.tasks.get(id))) {
    const taker = t && holder(t);
    if (taker) return `${t.title} is taken by ${taker.name}: choose another task.`;
  }
  if (agents.length === 0) return 'This host has no agent program installed.';
  return null;
}

/** Spawns an agent session for some tasks (§6, §15.3), then opens its page with the live terminal. */
export function SpawnDialog({ request, onClose }: { request: SpawnRequest; onClose: () => void }) {
  const projects = [...state.projects.values()];
  const [projectId, setProjectId] = useState(request.projectId ?? projects[0]?.id ?? '');
  const [taskIds, setTaskIds] = useState<string[]>(request.taskIds ?? []);
  const [role, setRole] = useState('worker');
  const [strategy, setStrategy] = useState('simple');
  const [host, setHost] = useState('');
  const [agent, setAgent] = useState('');
  const [model, setModel] = useState('');
  const [name, setName] = useState('');
  const { error, busy, run } = useAction();
  const tasks = useMemo(
    () => [...state.tasks.values()].filter((t) => t.projectId === projectId && t.status !== 'completed' && t.status !== 'cancelled'),
    [state.version, projectId],
  );
  const hosts = [...state.hosts.values()];
  // Without a choice the server launches on its local runner (§15.3): offer what that host has.
  const target = host ? state.hosts.get(host) : hosts.find((h) => h.local);
  const agents = target ? target.agents : PRESETS;
  const roleName = role === 'orchestrator' ? 'Orchestrator' : 'Worker';
  const firstTitle = state.tasks.get(taskIds[0] ?? '')?.title;
  const defaultName = firstTitle ? `${roleName} for ${firstTitle}` : '';
  const why = missing(projectId, taskIds, agents);

  const submit = async (e: Event) => {
    e.preventDefault();
    let sessionId = '';
    const ok = await run(async () => {
      const body = {
        projectId,
        taskIds,
        role,
        strategy,
        spawnSource: 'ui',
        // The server's default name carries the task's ID (§6.1); people know the task by its title.
        ...(name.trim() || defaultName ? { sessionName: name.trim() || defaultName } : {}),
        ...(host ? { host } : {}),
        ...(agent ? { agent } : {}),
        ...(model.trim() ? { model: model.trim() } : {}),
      };
      sessionId = (await api<{ sessionId: string }>('POST', '/api/sessions/spawn', body)).sessionId;
    });
    if (ok) {
      onClose();
      location.hash = `#/s/${encodeURIComponent(sessionId)}`;
    }
  };

  return (
    <Modal title="Spawn an agent" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <Field label="Project">
          {(id) => (
            <select id={id} value={projectId} required onChange={(e) => (setProjectId(e.currentTarget.value), setTaskIds([]))}>
              {projects.map((p) => (
                <option value={p.id}>{p.name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Tasks" hint="Ctrl- or Shift-click to choose several.">
          {(id) => (
            <select
              id={id}
              multiple
              required
              size={Math.min(8, Math.max(3, tasks.length))}
              onChange={(e) => setTaskIds([...e.currentTarget.selectedOptions].map((o) => o.value))}
            >
              {tasks.map((t) => (
                <option value={t.id} selected={taskIds.includes(t.id)} disabled={holder(t) !== undefined}>
                  {t.title}
                  {taskNote(t)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Name" hint="Names like shop-api-auth are grouped as shop › api on the Sessions page.">
          {(id) => (
            <input id={id} value={name} placeholder={defaultName || 'Worker for …'} onInput={(e) => setName(e.currentTarget.value)} />
          )}
        </Field>
        <div class="row">
          <Field label="Role">
            {(id) => (
              <select id={id} value={role} onChange={(e) => setRole(e.currentTarget.value)}>
                <option value="worker">worker</option>
                <option value="orchestrator">orchestrator</option>
              </select>
            )}
          </Field>
          <Field label="Strategy">
            {(id) => (
              <select id={id} value={strategy} onChange={(e) => setStrategy(e.currentTarget.value)}>
                <option value="simple">simple</option>
                <option value="queue">queue</option>
                <option value="tree">tree</option>
              </select>
            )}
          </Field>
        </div>
        <div class="row">
          <Field label="Host">
            {(id) => (
              <select id={id} value={host} onChange={(e) => (setHost(e.currentTarget.value), setAgent(''))}>
                <option value="">default</option>
                {hosts.map((h) => (
                  <option value={h.name}>
                    {h.name} ({h.status === 'online' ? 'online' : 'offline: the agent starts when it connects'})
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Agent">
            {(id) => (
              <select id={id} value={agent} onChange={(e) => setAgent(e.currentTarget.value)}>
                <option value="">default</option>
                {agents.map((a) => (
                  <option value={a}>{a}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Model">
            {(id) => <input id={id} value={model} placeholder="default" onInput={(e) => setModel(e.currentTarget.value)} />}
          </Field>
        </div>
        <ErrorLine error={error} />
        <div class="actions">
          {/* Before the buttons, on their row: read where the person looks to press Spawn, and before it. */}
          {why && (
            <p id="spawn-why" class="muted small why">
              {why}
            </p>
          )}
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || why !== null} aria-describedby={why ? 'spawn-why' : undefined}>
            Spawn
          </button>
        </div>
      </form>
    </Modal>
  );
}
