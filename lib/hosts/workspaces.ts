// The server's side of workspaces (contract §20): what runners report, and diff/merge/removal sent to them.

import { bounded } from '../domain/stores/session-history.js';
import type { Session } from '../domain/types.js';
import type { MergeRequest } from '../domain/workspace-requests.js';
import { ApiError, sessionNotFound } from '../errors.js';
import type { Logger } from '../log.js';
import type { WorkspaceReport } from '../runner-protocol.js';
import type { Db } from '../storage/db.js';
import { Turns } from '../turns.js';
import { hostOffline, type RunnerHub } from './hub.js';
import { timeline } from './session-runs.js';

/** Git on a big repository may take longer than a terminal snapshot. */
const GIT_TIMEOUT_MS = 120_000;
const STATUS: Record<string, 400 | 409> = {
  VALIDATION_ERROR: 400,
  NO_WORKSPACE: 409,
  SESSION_RUNNING: 409,
  WORKSPACE_DIRTY: 409,
  MERGE_CONFLICT: 409,
};

const noWorkspace = (sessionId: string) =>
  new ApiError(409, 'NO_WORKSPACE', 'The session has no worktree (shared, not launched by a runner, or removed)', { sessionId });
const stillRunning = (sessionId: string) =>
  new ApiError(409, 'SESSION_RUNNING', 'The agent is still running: stop it first', { sessionId });

/** A runner's refusal as the contract's error; any other failure of git is a 500. */
function asApiError(error: unknown): never {
  if (error instanceof ApiError) throw error;
  const { code, details, message } = error as Error & { code?: string; details?: Record<string, unknown> };
  const status = code ? STATUS[code] : undefined;
  if (status && code) throw new ApiError(status, code, message, details);
  throw new ApiError(500, 'INTERNAL_ERROR', `git failed on the runner: ${message}`);
}

type Active = Session & { host: string; workspace: NonNullable<Session['workspace']> };

export class Workspaces {
  /**
   * Merges and removals of one session's worktree run one at a time, in arrival order (§1.7), each checked against
   * the state the one before left: a second Merge click, or a Remove beside it, must not reach git while the first
   * is still on the runner, nor record its answer over a later one.
   */
  readonly #turns = new Turns();

  constructor(
    private readonly db: Db,
    private readonly hub: RunnerHub,
    private readonly log: Logger,
    /** The session a caller may control (§15.6), or a 403/404. */
    private readonly controllable: (sessionId: string, caller: string | null) => Session,
  ) {}

  /** A runner made a session's workspace (§20.2). */
  reported(name: string, sessionId: string, ws: WorkspaceReport) {
    return this.db.mutate((tx) => {
      const s = tx.get('sessions', sessionId);
      if (!s || s.host !== name) return;
      const worktree = ws.mode === 'worktree';
      const from = ws.baseBranch ?? ws.baseCommit;
      const updated: Session = {
        ...s,
        workspace: { ...ws, state: 'active' },
        env: worktree ? { ...s.env, MAESTRO_WORKSPACE: ws.path, MAESTRO_BRANCH: ws.branch! } : s.env,
        lastActivity: tx.now,
        timeline: worktree
          ? [...s.timeline, timeline(tx, 'workspace_created', `Worktree ${ws.path} on ${ws.branch} from ${from}`)]
          : s.timeline,
      };
      tx.put('sessions', updated);
      tx.emit('session:updated', updated);
    });
  }

  #worktree(s: Session): Active {
    const ws = s.workspace;
    if (!s.host || !ws || ws.mode !== 'worktree' || ws.state === 'removed') throw noWorkspace(s.id);
    return s as Active;
  }

  #ask<T>(s: Active, op: 'diff' | 'merge' | 'remove', options: Record<string, unknown>): Promise<T> {
    if (!this.hub.isOnline(s.host)) throw hostOffline(s.host);
    const { state: _state, mergedCommit: _m, archiveRef: _a, ...workspace } = s.workspace;
    return this.hub
      .request<{ data: T }>(s.host, { type: 'git', sessionId: s.id, op, workspace, options }, GIT_TIMEOUT_MS)
      .then((reply) => reply.data, asApiError);
  }

  /** `GET /api/sessions/:id/diff` (§20.3). */
  async diff(sessionId: string, stat: boolean) {
    const s = this.db.get('sessions', sessionId);
    if (!s) throw sessionNotFound(sessionId);
    const data = await this.#ask<Record<string, unknown>>(this.#worktree(s), 'diff', { stat });
    return { sessionId, ...data };
  }

  /** `POST /api/sessions/:id/merge` (§20.4). */
  merge(sessionId: string, request: MergeRequest, caller: string | null) {
    return this.#turns.run(sessionId, () => this.#merge(sessionId, request, caller));
  }

  async #merge(sessionId: string, request: MergeRequest, caller: string | null) {
    const s = this.controllable(sessionId, caller);
    if (s.run?.state === 'running' || s.run?.state === 'pending') throw stillRunning(sessionId);
    const active = this.#worktree(s);
    if (!this.hub.isOnline(active.host)) throw hostOffline(active.host);
    const { baseBranch } = active.workspace;
    if (!baseBranch) throw new ApiError(400, 'VALIDATION_ERROR', 'no base branch to merge into', { sessionId });
    // A title or name may hold a NUL (the API takes any text), which no argument of git can carry.
    const plain = (text: string) => text.replaceAll('\0', '');
    const title = plain(this.db.get('tasks', s.taskIds[0] ?? '')?.title ?? s.name);
    const footer = `Maestro session ${s.id}`;
    const message =
      request.message ??
      (request.strategy === 'merge' ? `Merge ${active.workspace.branch} into ${baseBranch}\n\n${footer}` : `${title}\n\n${footer}`);
    const { commit } = await this.#ask<{ commit: string }>(active, 'merge', {
      strategy: request.strategy,
      message,
      commitUncommitted: request.commitUncommitted,
      uncommittedMessage: `${plain(s.name)}: uncommitted changes`,
    });
    await this.#record(
      sessionId,
      (ws) => ({ ...ws, state: 'merged', mergedCommit: commit }),
      'workspace_merged',
      `${request.strategy} into ${baseBranch}: ${commit}`,
    );
    return { sessionId, strategy: request.strategy, baseBranch, commit };
  }

  /** `DELETE /api/sessions/:id/workspace` (§20.5). */
  remove(sessionId: string, force: boolean, caller: string | null): Promise<Session> {
    return this.#turns.run(sessionId, () => this.#remove(sessionId, force, caller));
  }

  async #remove(sessionId: string, force: boolean, caller: string | null): Promise<Session> {
    const s = this.controllable(sessionId, caller);
    if (s.run?.state === 'running' || s.run?.state === 'pending') throw stillRunning(sessionId);
    const active = this.#worktree(s);
    const removed = await this.#ask<{ archiveRef: string | null; branchDeleted: boolean }>(active, 'remove', { force });
    // (no archive ref when the worktree and its branch had both been deleted by hand: nothing was left to keep)
    const kept = removed.archiveRef ? `its state is kept as ${removed.archiveRef}` : 'it and its branch were already gone';
    const what = `Worktree ${active.workspace.path} removed; ${kept}${removed.branchDeleted || !removed.archiveRef ? '' : `; branch ${active.workspace.branch} kept`}`;
    return this.#record(
      sessionId,
      (ws) => ({ ...ws, state: 'removed', ...(removed.archiveRef && { archiveRef: removed.archiveRef }) }),
      'workspace_removed',
      what,
    );
  }

  /** `DELETE /api/sessions/:id` (§20.5): the worktree goes only when it holds no unmerged work; else it stays for prune. */
  async deleted(session: Session) {
    const ws = session.workspace;
    if (!session.host || !ws || ws.mode !== 'worktree' || ws.state === 'removed' || !this.hub.isOnline(session.host)) return;
    if (session.run?.state === 'running') return;
    await this.#ask(session as Active, 'remove', { force: false }).catch((error: Error) =>
      this.log.info(`Worktree of deleted session ${session.id} kept: ${error.message}`),
    );
  }

  #record(
    sessionId: string,
    change: (ws: Active['workspace']) => Active['workspace'],
    type: 'workspace_merged' | 'workspace_removed',
    message: string,
  ) {
    return this.db.mutate((tx) => {
      const s = tx.get('sessions', sessionId);
      if (!s?.workspace) throw sessionNotFound(sessionId);
      const updated: Session = bounded(tx, {
        ...s,
        workspace: change(s.workspace),
        lastActivity: tx.now,
        timeline: [...s.timeline, timeline(tx, type, message)],
      });
      tx.put('sessions', updated);
      tx.emit('session:updated', updated);
      return updated;
    });
  }
}
