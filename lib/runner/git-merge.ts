// Merging a worktree's branch into its base (contract §20.4): every refusal before anything moves, no half merge.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkspaceReport } from '../runner-protocol.js';
import {
  baseTip,
  commitOf,
  git,
  identityEnv,
  mergeTree,
  must,
  snapshot,
  splitZ,
  unfinished,
  WorkspaceError,
  worktreeStatus,
} from './git.js';

export interface MergeOptions {
  strategy: 'squash' | 'merge' | 'rebase';
  /** The squash or merge commit's message. */
  message: string;
  commitUncommitted: boolean;
  /** The message of the commit of uncommitted work ("<session name>: uncommitted changes"). */
  uncommittedMessage: string;
}

/**
 * The work tree where `ref` is checked out (usually the main checkout), if any. One whose directory was deleted by
 * hand (git calls it prunable) has no files to update: the branch then moves as if checked out nowhere.
 */
export async function checkoutOf(cwd: string, ref: string): Promise<string | undefined> {
  const blocks = (await must(cwd, ['worktree', 'list', '--porcelain', '-z'])).split('\0\0');
  for (const block of blocks) {
    const lines = splitZ(block);
    const tree = lines.find((l) => l.startsWith('worktree '))?.slice(9);
    if (tree && lines.includes(`branch ${ref}`) && !lines.includes('bare') && existsSync(tree)) return tree;
  }
  return undefined;
}

/**
 * A work tree where `ref` is being rebased, if any: its HEAD is detached meanwhile, so `worktree list` does not name
 * the branch, but the rebase moves the branch when it ends (and fails, the person's work left on a detached HEAD, if
 * the branch moved meanwhile). Git's own `branch -f` refuses such a branch too.
 */
async function rebasingIn(cwd: string, ref: string): Promise<string | undefined> {
  for (const block of (await must(cwd, ['worktree', 'list', '--porcelain', '-z'])).split('\0\0')) {
    const lines = splitZ(block);
    const tree = lines.find((l) => l.startsWith('worktree '))?.slice(9);
    if (!tree || !lines.includes('detached') || !existsSync(tree)) continue;
    const dir = (await git(tree, ['rev-parse', '--absolute-git-dir'])).stdout.trim();
    const read = (file: string) => (dir && existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8').trim() : '');
    if (read('rebase-merge/head-name') === ref || read('rebase-apply/head-name') === ref) return tree;
  }
  return undefined;
}

/** Whether anything (a file, a directory, a dangling link) is at `path`. */
const present = (path: string) => {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
};

const conflict = (files: string[]) =>
  new WorkspaceError('MERGE_CONFLICT', `The changes conflict with the base branch in ${files.length} file(s)`, { files });

/**
 * Squash, merge or rebase the worktree's branch (with its uncommitted work) into the base branch. The result is
 * computed in the object store first (`merge-tree`); only a merge that will succeed moves a ref. A rebase replays
 * in the session's own worktree; if it stops on a conflict, the branch, index and files are put back as they were.
 */
export async function mergeWorkspace(ws: WorkspaceReport, options: MergeOptions): Promise<{ commit: string }> {
  const { path, branch, baseBranch } = ws;
  if (!baseBranch || !branch) throw new WorkspaceError('VALIDATION_ERROR', 'no base branch to merge into');
  // A rebase or merge the agent left stopped on a conflict: its files hold conflict markers, and a rebase of ours
  // would abort the agent's. The person finishes or aborts it in the worktree first.
  const left = await unfinished(path);
  if (left) {
    throw new WorkspaceError('WORKSPACE_DIRTY', `The worktree ${left}: finish or abort it there first`, { files: [], checkout: path });
  }
  const status = await worktreeStatus(path);
  if (!options.commitUncommitted && (status.uncommitted.length || status.untracked.length)) {
    throw new WorkspaceError('WORKSPACE_DIRTY', 'The worktree has uncommitted changes', {
      uncommitted: status.uncommitted.length,
      untracked: status.untracked.length,
      files: [...status.uncommitted, ...status.untracked].sort(),
    });
  }
  const baseRef = `refs/heads/${baseBranch}`;
  const snap = await snapshot(path, options.uncommittedMessage);
  const tip = await baseTip(path, baseBranch, null);
  const predicted = await mergeTree(path, tip, snap.commit);
  if (predicted.conflicts.length) throw conflict(predicted.conflicts);
  // Nothing new to merge (merged before, nothing since): the base stays as it is, no empty commit is made.
  const merged =
    options.strategy === 'squash'
      ? predicted.tree === (await must(path, ['rev-parse', `${tip}^{tree}`])).trim()
      : (await git(path, ['merge-base', '--is-ancestor', snap.commit, tip])).ok;
  if (merged) return { commit: tip };

  // The checkout of the base branch must have no uncommitted change in a file the merge writes, and no file of its
  // own where the merge adds one: `status` does not list ignored files (a person's `.env`, a build output), and the
  // fast-forward would overwrite those without a word.
  const target = await checkoutOf(path, baseRef);
  const rebasing = target ? undefined : await rebasingIn(path, baseRef);
  if (rebasing) {
    throw new WorkspaceError('WORKSPACE_DIRTY', `${baseBranch} is being rebased in ${rebasing}: finish or abort that first`, {
      files: [],
      checkout: rebasing,
    });
  }
  if (target) {
    const names = (...filter: string[]) => must(path, ['diff', '--name-only', '-z', '--no-renames', ...filter, tip, predicted.tree]);
    const [touched, added] = (await Promise.all([names(), names('--diff-filter=A')])).map(splitZ) as [string[], string[]];
    const dirty = await worktreeStatus(target);
    const busy = new Set([...dirty.uncommitted, ...dirty.untracked, ...added.filter((f) => present(join(target, f)))]);
    const files = touched.filter((f) => busy.has(f)).sort();
    if (files.length) {
      throw new WorkspaceError('WORKSPACE_DIRTY', `${target} has uncommitted or untracked files where the merge writes`, {
        files,
        checkout: target,
      });
    }
  }

  // From here on refs move: keep what is needed to put the worktree back.
  const ident = await identityEnv(path);
  const saved = await mkdtemp(join(tmpdir(), 'maestro-merge-'));
  const realIndex = (await must(path, ['rev-parse', '--path-format=absolute', '--git-path', 'index'])).trim();
  const savedIndex = join(saved, 'index');
  const hadIndex = await copyFile(realIndex, savedIndex).then(
    () => true,
    () => false,
  );
  // `HEAD` of the worktree, not its branch by name: the agent may have switched to a branch of its own or detached
  // HEAD, and the snapshot (like the diff) is of what is checked out. `update-ref HEAD` moves whatever HEAD names.
  const restore = async () => {
    await git(path, ['update-ref', '-m', 'maestro: merge undone', 'HEAD', snap.head]);
    if (hadIndex) await copyFile(savedIndex, realIndex);
  };
  try {
    if (snap.commit !== snap.head) {
      await must(path, ['update-ref', '-m', 'maestro: uncommitted changes', 'HEAD', snap.commit, snap.head]);
      await must(path, ['read-tree', snap.commit]);
    }
    let commit: string;
    if (options.strategy === 'rebase') {
      const rebased = await git(path, ['rebase', '--quiet', '--no-autostash', tip], { env: ident });
      if (!rebased.ok) {
        const files = splitZ((await git(path, ['diff', '--name-only', '-z', '--diff-filter=U'])).stdout).sort();
        await git(path, ['rebase', '--abort']);
        await restore();
        throw conflict(files.length ? files : predicted.conflicts);
      }
      commit = (await commitOf(path, 'HEAD'))!;
    } else {
      const parents = options.strategy === 'merge' ? ['-p', tip, '-p', snap.commit] : ['-p', tip];
      commit = (await must(path, ['commit-tree', predicted.tree, ...parents, '-m', options.message], { env: ident })).trim();
    }
    if (target) {
      const moved = await git(target, ['merge', '--ff-only', '--quiet', commit]);
      if (!moved.ok) {
        await restore();
        throw new WorkspaceError('WORKSPACE_DIRTY', `Could not update ${target}: ${moved.stderr}`, { files: [], checkout: target });
      }
    } else {
      await must(path, ['update-ref', '-m', `maestro: ${options.strategy} ${branch}`, baseRef, commit, tip]);
    }
    return { commit };
  } catch (error) {
    // (a refusal here may come after the branch moved, e.g. a lock met half way; putting it back twice is harmless)
    await restore().catch(() => undefined);
    throw error;
  } finally {
    await rm(saved, { recursive: true, force: true });
  }
}
