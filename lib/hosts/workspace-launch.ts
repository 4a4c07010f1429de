// What a launch asks of the workspace (contract §20.1): the spawn's mode, else the project's, with its settings.
import type { Project, Session } from '../domain/types.js';
import type { WorkspaceRequest } from '../runner-protocol.js';

/** The `workspace` of a launch message: the spawn's override, else the project's mode (default `auto`). */
export function launchWorkspace(session: Session, project: Project | undefined, firstTaskTitle: string): WorkspaceRequest {
  const settings = project?.workspace ?? {};
  const override = session.metadata?.workspace;
  const mode = override === 'auto' || override === 'worktree' || override === 'shared' ? override : (settings.mode ?? 'auto');
  return {
    mode,
    ...(settings.baseBranch !== undefined && { baseBranch: settings.baseBranch }),
    ...(settings.copy !== undefined && { copy: settings.copy }),
    ...(settings.setup !== undefined && { setup: settings.setup }),
    title: firstTaskTitle,
  };
}
