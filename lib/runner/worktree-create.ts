// Creating an agent's workspace before it starts (contract §20.1, §20.2): a git worktree on its own branch, or shared.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import type { WorkspaceReport, WorkspaceRequest } from '../runner-protocol.js';
import { commitOf, git, must, WorkspaceError } from './git.js';

/** The runner's worktree root: `MAESTRO_WORKTREES_DIR`, default `~/.maestro/worktrees` (a leading `~` expanded). */
export function worktreesRoot(value = process.env.MAESTRO_WORKTREES_DIR): string {
  const dir = value?.trim() || '~/.maestro/worktrees';
  return resolve(dir === '~' || dir.startsWith('~/') ? join(homedir(), dir.slice(1)) : dir);
}

/** `maestro/<slug>-<suffix>` (§20.2) before any `-2`, `-3`. */
export function branchName(title: string, sessionId: string): string {
  const slug =
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'session';
  return `maestro/${slug}-${sessionId.slice(-6).toLowerCase()}`;
}

/** `<basename of the top level>-<8 hex digits of the SHA-256 of its real path>`. */
export const repoKey = (realTop: string) => `${basename(realTop)}-${createHash('sha256').update(realTop).digest('hex').slice(0, 8)}`;

/** Where a session's record sits beside its worktree: what `maestro workspace prune` reads when the session is gone. */
export const recordPath = (worktreePath: string) => `${worktreePath}.json`;

export interface Created {
  workspace: WorkspaceReport;
  /** The agent's working directory: the worktree, or the same subdirectory of it as `workingDir` is of its repository. */
  cwd: string;
}

/** Makes the session's workspace; a refusal is a `WorkspaceError` whose message becomes `run.reason`. */
export async function createWorkspace(sessionId: string, workingDir: string, request: WorkspaceRequest, root: string): Promise<Created> {
  const shared: Created = {
    workspace: { mode: 'shared', path: workingDir, branch: null, baseBranch: null, baseCommit: null, repoPath: null },
    cwd: workingDir,
  };
  if (request.mode === 'shared') return shared;
  const top = await git(workingDir, ['rev-parse', '--show-toplevel']);
  // A repository git refuses to work in (owned by another user: "dubious ownership") is still a repository: shared
  // would silently put every agent in the one checkout, and "not a git repository" would be false. Git's reason it is.
  const refusal = /dubious ownership/.test(top.stderr) ? top.stderr.split('\n')[0]!.replace(/^fatal: /, '') : undefined;
  if (refusal) throw new WorkspaceError('VALIDATION_ERROR', `git refuses ${workingDir}: ${refusal} (see git's safe.directory)`);
  if (!top.ok || (await git(workingDir, ['rev-parse', '--is-inside-work-tree'])).stdout.trim() !== 'true') {
    if (request.mode === 'auto') return shared;
    throw new WorkspaceError('VALIDATION_ERROR', `not a git repository: ${workingDir}`);
  }
  const repoPath = await realpath(top.stdout.trim());
  const prefix = (await must(workingDir, ['rev-parse', '--show-prefix'])).trim();

  let baseBranch: string | null = request.baseBranch ?? null;
  let baseCommit: string | undefined;
  if (baseBranch) {
    baseCommit = await commitOf(repoPath, `refs/heads/${baseBranch}`);
    if (!baseCommit) throw new WorkspaceError('VALIDATION_ERROR', `base branch not found: ${baseBranch}`);
  } else {
    const current = await git(workingDir, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
    baseBranch = current.ok ? current.stdout.trim() : null;
    baseCommit = await commitOf(workingDir, 'HEAD');
    if (!baseCommit) throw new WorkspaceError('VALIDATION_ERROR', `the repository has no commit yet: ${repoPath}`);
  }

  const first = branchName(request.title, sessionId);
  let branch = first;
  for (let n = 2; await commitOf(repoPath, `refs/heads/${branch}`); n++) branch = `${first}-${n}`;
  const path = join(root, repoKey(repoPath), sessionId);
  if (existsSync(path)) throw new WorkspaceError('VALIDATION_ERROR', `worktree path already exists: ${path}`);
  await mkdir(join(root, repoKey(repoPath)), { recursive: true });
  await must(repoPath, ['worktree', 'add', '--quiet', '-b', branch, '--', path, baseCommit]);

  const workspace: WorkspaceReport = { mode: 'worktree', path, branch, baseBranch, baseCommit, repoPath };
  const from = resolve(workingDir);
  const to = join(path, prefix);
  try {
    await writeFile(recordPath(path), `${JSON.stringify({ sessionId, ...workspace }, null, 2)}\n`);
    for (const entry of request.copy ?? []) await copyEntry(from, to, entry);
  } catch (error) {
    // The session fails before the server learns of this worktree, so nothing could remove it but `prune`; it holds
    // nothing of the agent's yet: take it and its branch back.
    await git(repoPath, ['worktree', 'remove', '--force', '--', path]);
    await git(repoPath, ['update-ref', '-d', `refs/heads/${branch}`]);
    await rm(recordPath(path), { force: true });
    throw error;
  }
  return { workspace, cwd: existsSync(to) ? to : path };
}

/** Copies only what holds data: a FIFO, socket or device (a dev server's socket in `tmp/`) cannot be copied. */
const copied = async (source: string) => {
  const stat = await lstat(source);
  return stat.isFile() || stat.isDirectory() || stat.isSymbolicLink();
};

/** Copies one `copy` entry (files and directories, modes kept, links as links); an absent entry is skipped. */
async function copyEntry(from: string, to: string, entry: string) {
  if (isAbsolute(entry) || entry.split(/[\\/]/).includes('..')) return;
  const source = resolve(from, entry);
  const target = resolve(to, entry);
  if (!source.startsWith(from + sep) || !target.startsWith(to + sep) || !existsSync(source)) return;
  await mkdir(resolve(target, '..'), { recursive: true });
  await cp(source, target, { recursive: true, verbatimSymlinks: true, force: true, preserveTimestamps: true, filter: copied });
}
