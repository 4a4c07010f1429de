// Removing a worktree without losing work (contract §20.5): merged-by-patch checks, the archive ref, then removal.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { WorkspaceReport } from '../runner-protocol.js';
import { commitOf, comparedBase, git, mergeTree, must, type Snapshot, snapshot, WorkspaceError, worktreeStatus } from './git.js';
import { recordPath } from './worktree-create.js';

export interface WorkState {
  uncommitted: number;
  untracked: number;
  /** The branch's commits whose change is not in the base (by patch, as `git cherry` counts). */
  unmergedCommits: number;
  /** Everything in the worktree (commits and uncommitted work) is already in the base. */
  merged: boolean;
  snap: Snapshot;
}

export const archiveRef = (sessionId: string) => `refs/maestro/archive/${sessionId}`;

/**
 * Whether the worktree's work is in its base. Reachability is not enough: a squash or a rebase makes new commits.
 * So the work also counts as merged when merging it into the base would change nothing (its patch is already
 * there), or when `git cherry` finds every commit's patch in the base and nothing is uncommitted.
 */
export async function workState(ws: WorkspaceReport): Promise<WorkState> {
  const status = await worktreeStatus(ws.path);
  const snap = await snapshot(ws.path, 'Maestro archive: uncommitted changes');
  const { tip, branch } = await comparedBase(ws.path, ws.baseBranch, ws.baseCommit);
  const cherry = (await must(ws.path, ['cherry', tip, snap.head])).split('\n').filter((l) => l.startsWith('+')).length;
  let merged = (await git(ws.path, ['merge-base', '--is-ancestor', snap.commit, tip])).ok;
  if (!merged && branch) {
    const would = await mergeTree(ws.path, tip, snap.commit);
    const tipTree = (await must(ws.path, ['rev-parse', `${tip}^{tree}`])).trim();
    merged = (would.conflicts.length === 0 && would.tree === tipTree) || (cherry === 0 && snap.commit === snap.head);
  }
  // Files changed inside a submodule are in no commit of this repository, merged or archived: removing the worktree
  // would lose them.
  merged &&= snap.uncaptured.length === 0;
  return {
    uncommitted: status.uncommitted.length,
    untracked: status.untracked.length,
    unmergedCommits: merged ? 0 : cherry,
    merged,
    snap,
  };
}

export interface Removed {
  /** Null only when the worktree and its branch were both gone: nothing was left to keep. */
  archiveRef: string | null;
  branchDeleted: boolean;
}

/**
 * Removes the worktree: refused (409 WORKSPACE_DIRTY with counts) while it holds unmerged work, unless `force`.
 * Before anything goes, its whole state is kept under `refs/maestro/archive/<sessionId>`; the branch is deleted
 * only when its work is merged, or with `force` (the archive ref still holds it).
 */
export async function removeWorkspace(sessionId: string, ws: WorkspaceReport, force: boolean): Promise<Removed> {
  const repo = ws.repoPath!;
  const ref = archiveRef(sessionId);
  if (!existsSync(ws.path)) {
    // Gone already (removed by hand): its uncommitted work went with it, but its commits are on the branch, which
    // stays; the archive ref keeps them too, so that the answer's `archiveRef` names a ref that exists.
    await git(repo, ['worktree', 'prune']);
    const head = ws.branch ? await commitOf(repo, `refs/heads/${ws.branch}`) : undefined;
    if (!head) return { archiveRef: null, branchDeleted: false };
    await must(repo, ['update-ref', '-m', 'maestro: archive before removal', ref, head]);
    return { archiveRef: ref, branchDeleted: false };
  }
  const state = await workState(ws);
  if (!force && !state.merged) {
    // The counts are in the message too: the dashboard and the CLI show it, and a person weighs Remove anyway by it.
    const what = `${state.uncommitted} uncommitted, ${state.untracked} untracked, ${state.unmergedCommits} unmerged commit(s)`;
    throw new WorkspaceError('WORKSPACE_DIRTY', `The worktree holds work that is not in the base branch: ${what}`, {
      uncommitted: state.uncommitted,
      untracked: state.untracked,
      unmergedCommits: state.unmergedCommits,
    });
  }
  await must(repo, ['update-ref', '-m', 'maestro: archive before removal', ref, state.snap.commit]);
  await must(repo, ['worktree', 'remove', '--force', '--', ws.path]);
  let branchDeleted = false;
  const branchRef = ws.branch ? `refs/heads/${ws.branch}` : undefined;
  if (branchRef && (state.merged || force) && (await commitOf(repo, branchRef))) {
    branchDeleted = (await git(repo, ['update-ref', '-d', branchRef])).ok;
  }
  await rm(recordPath(ws.path), { force: true });
  return { archiveRef: ref, branchDeleted };
}
