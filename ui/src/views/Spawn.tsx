import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import type { SpawnRequest } from '../main';
import { state } from '../store';
import { ErrorLine, Field, Modal, useAction } from '../util';

const PRESETS = ['claude', 'codex', 'gemini', 'shell', 'custom'];

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
  const { error, busy, run } = useAction();
  const tasks = useMemo(
    () => [...state.tasks.values()].filter((t) => t.projectId === projectId && t.status !== 'completed' && t.status !== 'cancelled'),
    [state.version, projectId],
  );
  const hosts = [...state.hosts.values()];
  const agents = host ? (state.hosts.get(host)?.agents ?? PRESETS) : PRESETS;

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
                <option value={t.id} selected={taskIds.includes(t.id)}>
                  {t.title}
                </option>
              ))}
            </select>
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
                    {h.name} ({h.status})
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
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || !projectId || taskIds.length === 0}>
            Spawn
          </button>
        </div>
      </form>
    </Modal>
  );
}
