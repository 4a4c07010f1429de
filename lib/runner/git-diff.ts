// What an agent changed (contract §20.3): its commits, uncommitted and untracked work against the merge base.
import type { WorkspaceReport } from '../runner-protocol.js';
import { comparedBase, git, mergeTree, must, snapshot, splitZ } from './git.js';

export const MAX_PATCH_BYTES = 2 * 1024 * 1024;

export interface ChangedFile {
  path: string;
  oldPath?: string;
  status: 'added' | 'modified' | 'deleted' | 'renamed';
  additions: number;
  deletions: number;
  binary: boolean;
}

export interface WorkspaceDiff {
  branch: string | null;
  baseBranch: string | null;
  baseCommit: string | null;
  mergeBase: string;
  headCommit: string;
  files: ChangedFile[];
  conflicts: string[];
  patch: string;
  truncated: boolean;
}

const STATUS: Record<string, ChangedFile['status']> = { A: 'added', C: 'added', D: 'deleted', R: 'renamed' };

/** The diff of a worktree; its index and files are never written (the snapshot uses a temporary index). */
export async function diffWorkspace(ws: WorkspaceReport, statOnly: boolean): Promise<WorkspaceDiff> {
  const snap = await snapshot(ws.path, 'Maestro diff snapshot');
  const { tip, branch } = await comparedBase(ws.path, ws.baseBranch, ws.baseCommit);
  const mergeBase = (await git(ws.path, ['merge-base', tip, snap.commit])).stdout.trim() || tip;
  // Three independent reads of the object store, at once.
  const [files, conflicts, full] = await Promise.all([
    changedFiles(ws.path, mergeBase, snap.tree),
    branch ? mergeTree(ws.path, tip, snap.commit).then((m) => m.conflicts) : [],
    statOnly ? undefined : git(ws.path, ['diff', '--no-color', '--no-ext-diff', '-M', mergeBase, snap.tree], { maxBytes: MAX_PATCH_BYTES }),
  ]);
  if (full && !full.ok) throw new Error(`git diff failed: ${full.stderr}`);
  const patch = full?.stdout ?? '';
  const truncated = full?.truncated ?? false;
  return {
    branch: ws.branch,
    baseBranch: ws.baseBranch,
    baseCommit: ws.baseCommit,
    mergeBase,
    headCommit: snap.head,
    files,
    conflicts,
    patch,
    truncated,
  };
}

/** `--name-status` and `--numstat` of the same diff, joined by path and sorted. */
export async function changedFiles(cwd: string, from: string, to: string): Promise<ChangedFile[]> {
  const range = ['--no-ext-diff', '-M', '-z', from, to];
  const [names, counts] = await Promise.all([must(cwd, ['diff', '--name-status', ...range]), must(cwd, ['diff', '--numstat', ...range])]);
  const stats = new Map<string, { additions: number; deletions: number; binary: boolean }>();
  const numbers = counts.split('\0');
  for (let i = 0; i < numbers.length; i++) {
    const [added, deleted, path] = numbers[i]!.split('\t');
    if (added === undefined || deleted === undefined) continue;
    // A rename's line has an empty path, then its old and new paths as two more fields.
    const name = path === '' ? ((i += 2), numbers[i]!) : path!;
    const binary = added === '-';
    stats.set(name, { additions: binary ? 0 : Number(added), deletions: binary ? 0 : Number(deleted), binary });
  }
  const files: ChangedFile[] = [];
  const fields = splitZ(names);
  for (let i = 0; i < fields.length; i++) {
    const letter = fields[i]!.charAt(0);
    const status = STATUS[letter] ?? 'modified';
    const oldPath = letter === 'R' || letter === 'C' ? fields[++i] : undefined;
    const path = fields[++i]!;
    const stat = stats.get(path) ?? { additions: 0, deletions: 0, binary: false };
    files.push({ path, ...(letter === 'R' && oldPath !== undefined && { oldPath }), status, ...stat });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
