// The runner's side of workspaces (contract §20): the worktree before a launch, and the server's git requests.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { RunnerMessage, ServerMessage, WorkspaceReport } from '../runner-protocol.js';
import { Turns } from '../turns.js';
import { maestroArgv } from './agent-sessions.js';
import { WorkspaceError } from './git.js';
import { diffWorkspace } from './git-diff.js';
import { mergeWorkspace } from './git-merge.js';
import { removeWorkspace } from './git-remove.js';
import { createWorkspace, worktreesRoot } from './worktree-create.js';

type Launch = Extract<ServerMessage, { type: 'launch' }>;
type GitRequest = Extract<ServerMessage, { type: 'git' }>;

/**
 * Runs `setup` (the project owner's own command, by design through `sh -c`) before the agent, in the agent's
 * terminal. The setup string and the agent's argv arrive as arguments (`$1`, `"$@"`), never inside this script.
 */
const SETUP_SCRIPT =
  'setup=$1; shift; sh -c "$setup"; code=$?; if [ "$code" -ne 0 ]; then echo "maestro: setup failed (exit $code)"; ' +
  'printf %s "$code" > "$MAESTRO_SETUP_EXIT_FILE"; exit "$code"; fi; exec "$@"';

const setupExitFile = (worktree: string) => `${worktree}.setup-exit`;

export class RunnerWorkspaces {
  readonly root: string;
  /** Sessions whose setup may fail: their exit is reported as a failure with its reason. */
  readonly #setups = new Map<string, string>();
  /**
   * Merges and removals in one repository run one at a time, in arrival order: each merge reads the base branch's
   * tip and moves it with that tip as the expected old value, so two sessions merged at once (a person clicking Merge
   * on several finished agents) would otherwise refuse each other, and each sees the base the one before left.
   */
  readonly #repoTurns = new Turns();

  constructor(root?: string) {
    this.root = worktreesRoot(root);
  }

  /**
   * The launch as it should run: in the session's worktree, with `MAESTRO_WORKSPACE`/`MAESTRO_BRANCH`, behind its
   * setup. Reports the workspace first. Undefined when the workspace could not be made (reported as `failed`).
   */
  async prepare(message: Launch, send: (m: RunnerMessage) => void): Promise<Launch | undefined> {
    const { workspace: request, sessionId } = message;
    if (!request || !message.cwd || !existsSync(message.cwd)) return message;
    try {
      const created = await createWorkspace(sessionId, message.cwd, request, this.root);
      send({ type: 'workspace', sessionId, workspace: created.workspace });
      if (created.workspace.mode === 'shared') return message;
      const env = { ...message.env, MAESTRO_WORKSPACE: created.workspace.path, MAESTRO_BRANCH: created.workspace.branch! };
      if (!request.setup) return { ...message, cwd: created.cwd, env };
      const exitFile = setupExitFile(created.workspace.path);
      rmSync(exitFile, { force: true });
      this.#setups.set(sessionId, exitFile);
      return {
        ...message,
        cwd: created.cwd,
        env: { ...env, MAESTRO_SETUP_EXIT_FILE: exitFile },
        // `maestro` is resolved here: after the wrapper, the launcher would no longer see it first.
        argv: [
          'sh',
          '-c',
          SETUP_SCRIPT,
          'maestro-setup',
          request.setup,
          ...(message.argv[0] === 'maestro' ? [...maestroArgv(), ...message.argv.slice(1)] : message.argv),
        ],
      };
    } catch (error) {
      const reason = error instanceof WorkspaceError ? error.message : `worktree creation failed: ${(error as Error).message}`;
      send({ type: 'failed', sessionId, reason });
      return undefined;
    }
  }

  /** An agent's exit after its setup failed becomes `failed` with "setup failed (exit N)". */
  outgoing(message: RunnerMessage): RunnerMessage {
    if (message.type !== 'exited') return message;
    const file = this.#setups.get(message.sessionId);
    if (!file || !existsSync(file)) return message;
    this.#setups.delete(message.sessionId);
    const code = readFileSync(file, 'utf8').trim();
    rmSync(file, { force: true });
    return { type: 'failed', sessionId: message.sessionId, reason: `setup failed (exit ${code})` };
  }

  /** Answers a `git` request: the result as `data`, or a refusal's code and details. */
  async request(message: GitRequest): Promise<RunnerMessage> {
    const { id, op, sessionId, options } = message;
    try {
      const ws = this.#owned(message.workspace);
      // Without its repository (moved or deleted by hand) no git command works in the worktree; and its files may
      // hold work, so they are not removed either.
      if (!existsSync(ws.repoPath!)) {
        throw new WorkspaceError(
          'NO_WORKSPACE',
          `The repository ${ws.repoPath} of this worktree no longer exists (moved or deleted): 'git worktree repair' run in its new place reconnects the worktree`,
        );
      }
      // A worktree deleted by hand has nothing to diff or merge (its branch stays); only its removal still cleans up.
      if (op !== 'remove' && !existsSync(ws.path)) {
        throw new WorkspaceError('NO_WORKSPACE', `The worktree ${ws.path} no longer exists (removed outside Maestro)`);
      }
      let data: unknown;
      if (op === 'diff') data = await diffWorkspace(ws, options.stat === true);
      else if (op === 'merge') {
        data = await this.#repoTurns.run(ws.repoPath!, () =>
          mergeWorkspace(ws, {
            strategy: (options.strategy as 'squash' | 'merge' | 'rebase') ?? 'squash',
            message: String(options.message ?? ''),
            commitUncommitted: options.commitUncommitted !== false,
            uncommittedMessage: String(options.uncommittedMessage ?? 'uncommitted changes'),
          }),
        );
      } else data = await this.#repoTurns.run(ws.repoPath!, () => removeWorkspace(sessionId, ws, options.force === true));
      return { type: 'reply', id, ok: true, data };
    } catch (error) {
      if (error instanceof WorkspaceError) {
        return { type: 'reply', id, ok: false, error: error.message, code: error.code, ...(error.details && { details: error.details }) };
      }
      return { type: 'reply', id, ok: false, error: (error as Error).message };
    }
  }

  /** Git runs only on worktrees under this runner's root (the server names them; the runner checks). */
  #owned(ws: WorkspaceReport): WorkspaceReport {
    const path = resolve(ws.path);
    if (ws.mode !== 'worktree' || !ws.repoPath || !path.startsWith(this.root + sep)) {
      throw new WorkspaceError('NO_WORKSPACE', 'The session has no worktree on this runner');
    }
    return { ...ws, path };
  }
}
