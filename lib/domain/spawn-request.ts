// A spawn request (contract §6.2): its shape once checked, and the checks of a spawn body in the contract's order.
import { ApiError, validationError } from '../errors.js';
import { hostNotFound } from '../hosts/index.js';
import type { Db } from '../storage/db.js';
import { isAgentPreset } from './agents.js';
import { ROLES, type Role, STRATEGIES, type Strategy } from './types.js';
import { WORKSPACE_MODES } from './workspace-requests.js';

export interface SpawnRequest {
  projectId: string;
  taskIds: string[];
  role: Role;
  strategy: Strategy;
  spawnSource: 'ui' | 'session';
  sessionId?: string;
  sessionName?: string;
  skills: string[];
  context: Record<string, unknown>;
  spawnedBy?: string;
  spawnReason?: string;
  /** §15.3: the runner to launch on, the agent preset, the model. */
  host?: string;
  agent?: string;
  model?: string;
  /** §20.1: overrides the project's workspace mode. */
  workspace?: 'auto' | 'worktree' | 'shared';
}

const spawnError = (status: 400 | 404, code: string, message: string, details?: Record<string, unknown>) =>
  new ApiError(status, code, message, details);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonBlank = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/** Checks a spawn body in the order of contract §6.2; the first failure wins. */
export function parseSpawnRequest(body: Record<string, unknown>, db: Db): SpawnRequest {
  if (!nonBlank(body.projectId)) throw spawnError(400, 'missing_project_id', 'projectId is required');
  const { taskIds } = body;
  if (!Array.isArray(taskIds) || taskIds.length === 0 || !taskIds.every(nonBlank)) {
    throw spawnError(400, 'invalid_task_ids', 'taskIds must be a non-empty array');
  }
  const spawnSource = body.spawnSource ?? 'ui';
  if (spawnSource !== 'ui' && spawnSource !== 'session') {
    throw spawnError(400, 'invalid_spawn_source', 'spawnSource must be "ui" or "session"');
  }
  const sessionId = nonBlank(body.sessionId) ? body.sessionId : undefined;
  if (spawnSource === 'session' && !sessionId) {
    throw spawnError(400, 'missing_session_id', 'sessionId is required when spawnSource is "session"');
  }
  if (sessionId && spawnSource === 'session' && !db.get('sessions', sessionId)) {
    throw spawnError(404, 'parent_session_not_found', `Parent session ${sessionId} not found`, { sessionId });
  }
  const role = body.role ?? 'worker';
  if (!ROLES.includes(role as Role)) throw spawnError(400, 'invalid_role', 'role must be "worker" or "orchestrator"');
  for (const taskId of taskIds as string[]) {
    if (!db.get('tasks', taskId)) throw spawnError(404, 'task_not_found', `Task ${taskId} not found`, { taskId });
  }
  if (!db.get('projects', body.projectId)) {
    throw spawnError(404, 'project_not_found', `Project ${body.projectId} not found`, { projectId: body.projectId });
  }
  const strategy = body.strategy ?? 'simple';
  if (!STRATEGIES.includes(strategy as Strategy)) {
    throw spawnError(400, 'invalid_strategy', 'strategy must be "simple", "queue", or "tree"');
  }
  const optionalText = (name: 'host' | 'agent' | 'model') => {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (!nonBlank(value))
      throw validationError(`${name} must be a non-empty string`, { issues: [{ path: name, message: 'Expected a non-empty string' }] });
    return value.trim();
  };
  const host = optionalText('host');
  const agent = optionalText('agent');
  const model = optionalText('model');
  if (host !== undefined && !db.get('hosts', host)) throw hostNotFound(host);
  if (agent !== undefined && !isAgentPreset(agent)) {
    throw validationError('agent must be one of claude, codex, gemini, shell, custom', {
      issues: [{ path: 'agent', message: 'Unknown agent preset' }],
    });
  }
  // The agent gets it as the argument after `--model`: one starting with "-" would be read as the agent's own option
  // (Gemini CLI's `--model --yolo` approves every tool call).
  if (model?.startsWith('-')) {
    throw validationError('model must be a model name, not an option', {
      issues: [{ path: 'model', message: 'model must not start with "-"' }],
    });
  }
  // The model and the skills reach the agent's argument vector and environment (`--model`, MAESTRO_MODEL,
  // MAESTRO_SKILLS), where no NUL can be: let through, the launch would fail on the runner with no useful reason.
  const skills = Array.isArray(body.skills) ? body.skills.filter(nonBlank) : [];
  for (const [path, values] of [
    ['model', model === undefined ? [] : [model]],
    ['skills', skills],
  ] as const) {
    if (values.some((value) => value.includes('\0'))) {
      throw validationError(`${path} must not contain a NUL character`, { issues: [{ path, message: 'NUL character' }] });
    }
  }
  const workspace = body.workspace ?? undefined;
  if (workspace !== undefined && !(WORKSPACE_MODES as readonly unknown[]).includes(workspace)) {
    throw validationError('workspace must be one of: auto, worktree, shared', {
      issues: [{ path: 'workspace', message: 'Unknown workspace mode' }],
    });
  }
  return {
    ...(workspace !== undefined && { workspace: workspace as SpawnRequest['workspace'] }),
    host,
    agent,
    model,
    projectId: body.projectId,
    taskIds: [...new Set(taskIds as string[])],
    role: role as Role,
    strategy: strategy as Strategy,
    spawnSource,
    sessionId,
    sessionName: nonBlank(body.sessionName) ? body.sessionName.trim() : undefined,
    // Non-array skills count as none [OP-9].
    skills,
    context: isObject(body.context) ? body.context : {},
    spawnedBy: nonBlank(body.spawnedBy) ? body.spawnedBy : undefined,
    spawnReason: nonBlank(body.spawnReason) ? body.spawnReason : undefined,
  };
}
