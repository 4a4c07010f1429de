// Git on the runner's machine (contract §20): argument vectors only, `--` before paths, no hooks, no prompts.
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A refusal with the contract's error code (§1.6), carried back to the server in the runner's reply. */
export class WorkspaceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The runner's environment without git's own variables (a runner started from a hook must not aim at that repo). */
function gitEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('GIT_')) env[key] = value;
  // No credential prompt, no editor, messages in English (parsed), and `status` never rewrites an index.
  return { ...env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', LC_ALL: 'C', GIT_OPTIONAL_LOCKS: '0', ...extra };
}

/** The repository owner's hooks and signing never run inside Maestro's own git calls. */
const NEUTRAL = ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgSign=false', '-c', 'core.quotePath=false'];

export interface GitOptions {
  env?: Record<string, string>;
  input?: string;
  /** Bytes of stdout kept; the rest is dropped and `truncated` set. */
  maxBytes?: number;
}

export interface GitResult {
  ok: boolean;
  code: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** `git <args>` in `cwd` (never through a shell). */
export async function git(cwd: string, args: string[], options: GitOptions = {}): Promise<GitResult> {
  const { execa } = await import('execa'); // loaded on first use, as in tmux.ts
  const result = await execa('git', [...NEUTRAL, ...args], {
    cwd,
    env: gitEnv(options.env ?? {}),
    extendEnv: false,
    reject: false,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    encoding: 'buffer',
    maxBuffer: { stdout: options.maxBytes ?? 256 * 1024 * 1024 },
    timeout: 120_000,
  });
  const out = Buffer.from(result.stdout ?? new Uint8Array());
  const truncated = Boolean(result.isMaxBuffer);
  let stdout = out.toString('utf8');
  // A cut patch ends at its last whole line, never inside a character.
  if (truncated) stdout = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
  return {
    ok: result.exitCode === 0 || (truncated && result.exitCode !== 128),
    code: result.exitCode ?? -1,
    stdout,
    stderr: Buffer.from(result.stderr ?? new Uint8Array())
      .toString('utf8')
      .trim(),
    truncated,
  };
}

/** `git <args>`'s stdout; throws with git's message when it fails. */
export async function must(cwd: string, args: string[], options: GitOptions = {}): Promise<string> {
  const result = await git(cwd, args, options);
  if (result.ok) return result.stdout;
  // A lock another git process holds (or one left by a git that was killed, e.g. with its agent): a refusal that
  // names the file, not a failure of Maestro's.
  const lock = /Unable to create '(.+\.lock)': File exists/.exec(result.stderr)?.[1];
  if (lock)
    throw new WorkspaceError('WORKSPACE_DIRTY', `Another git process holds ${lock}: let it finish, or remove the file if none runs`);
  throw new Error(`git ${args[0]} failed: ${result.stderr || `exit ${result.code}`}`);
}

/** The commit `rev` names, or undefined. */
export async function commitOf(cwd: string, rev: string): Promise<string | undefined> {
  const result = await git(cwd, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]);
  return result.ok ? result.stdout.trim() : undefined;
}

export const splitZ = (text: string) => text.split('\0').filter((s) => s !== '');

/** Who commits when the repository names nobody: Maestro, so that a commit never fails for want of an identity. */
export async function identityEnv(cwd: string): Promise<Record<string, string>> {
  const [committer, author] = await Promise.all([git(cwd, ['var', 'GIT_COMMITTER_IDENT']), git(cwd, ['var', 'GIT_AUTHOR_IDENT'])]);
  if (committer.ok && author.ok) return {};
  const who = { name: 'Maestro', email: 'maestro@localhost' };
  return { GIT_AUTHOR_NAME: who.name, GIT_AUTHOR_EMAIL: who.email, GIT_COMMITTER_NAME: who.name, GIT_COMMITTER_EMAIL: who.email };
}

export interface Snapshot {
  /** The branch's commit. */
  head: string;
  /** The whole work tree (tracked, changed, untracked and not ignored) as a tree. */
  tree: string;
  /** `head` when nothing is uncommitted, else a new commit of `tree` on top of `head` (no ref points at it). */
  commit: string;
  /**
   * Submodules with changed or untracked files inside: work that no commit of this repository can hold (a tree
   * records only a submodule's commit), so neither `tree` nor an archive of it keeps that work.
   */
  uncaptured: string[];
}

/**
 * The work tree's whole state as a commit, without touching its index or files: `git add -A` into a temporary copy
 * of the index (`GIT_INDEX_FILE`), `write-tree`, `commit-tree`. The copy keeps the index's file stamps, so only
 * changed files are read.
 */
export async function snapshot(worktree: string, message: string): Promise<Snapshot> {
  const head = await commitOf(worktree, 'HEAD');
  if (!head) throw new WorkspaceError('NO_WORKSPACE', `No commit checked out in ${worktree}`);
  const dir = await mkdtemp(join(tmpdir(), 'maestro-index-'));
  const index = join(dir, 'index');
  try {
    const env = { GIT_INDEX_FILE: index };
    const real = (await must(worktree, ['rev-parse', '--path-format=absolute', '--git-path', 'index'])).trim();
    // (the copy keeps the index's stat data: `add -A` then reads only the files that changed)
    await copyFile(real, index).catch(() => must(worktree, ['read-tree', head], { env }));
    await must(worktree, ['add', '-A', '--', '.'], { env });
    const [tree, headTree, dirtySubmodules] = await Promise.all([
      must(worktree, ['write-tree'], { env }),
      must(worktree, ['rev-parse', `${head}^{tree}`]),
      // (after `add -A`, the work tree differs from that index only inside submodules)
      must(worktree, ['diff-files', '--ignore-submodules=none', '--name-only', '-z'], { env }),
    ]);
    const uncaptured = splitZ(dirtySubmodules);
    if (tree.trim() === headTree.trim()) return { head, tree: tree.trim(), commit: head, uncaptured };
    const ident = await identityEnv(worktree);
    const commit = (await must(worktree, ['commit-tree', tree.trim(), '-p', head, '-m', message], { env: ident })).trim();
    return { head, tree: tree.trim(), commit, uncaptured };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a work tree is in the middle of (a rebase, merge, cherry-pick or revert left there), if anything. */
export async function unfinished(worktree: string): Promise<string | undefined> {
  const dir = (await must(worktree, ['rev-parse', '--absolute-git-dir'])).trim();
  const marks = {
    'rebase-merge': 'a rebase',
    'rebase-apply': 'a rebase',
    MERGE_HEAD: 'a merge',
    CHERRY_PICK_HEAD: 'a cherry-pick',
    REVERT_HEAD: 'a revert',
  };
  const found = Object.entries(marks).find(([file]) => existsSync(join(dir, file)));
  if (found) return `is in the middle of ${found[1]}`;
  return (await must(worktree, ['ls-files', '--unmerged', '-z'])) ? 'has unresolved conflicts' : undefined;
}

/** Changed and untracked paths of a work tree (`git status`, which with optional locks off writes nothing). */
export async function worktreeStatus(worktree: string): Promise<{ uncommitted: string[]; untracked: string[] }> {
  const entries = (await must(worktree, ['status', '--porcelain=v1', '-z', '--untracked-files=all'])).split('\0');
  const uncommitted: string[] = [];
  const untracked: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.length < 4) continue;
    const [xy, path] = [entry.slice(0, 2), entry.slice(3)];
    if (xy === '??') untracked.push(path);
    else uncommitted.push(path);
    if (xy[0] === 'R' || xy[0] === 'C') uncommitted.push(entries[++i]!); // the rename's source follows
  }
  return { uncommitted, untracked };
}

/** A would-be merge of `theirs` into `ours`, computed in the object store only (`git merge-tree --write-tree`). */
export async function mergeTree(cwd: string, ours: string, theirs: string): Promise<{ tree: string; conflicts: string[] }> {
  const result = await git(cwd, ['merge-tree', '--write-tree', '-z', '--name-only', '--no-messages', ours, theirs]);
  if (result.code !== 0 && result.code !== 1) throw new Error(`git merge-tree failed: ${result.stderr}`);
  const [tree, ...paths] = splitZ(result.stdout);
  return { tree: tree!, conflicts: result.code === 1 ? [...new Set(paths)].sort() : [] };
}

/**
 * What a worktree's work is weighed against: the base branch's tip (`branch: true`), else, with no base branch or one
 * deleted since launch, the commit the worktree started from; so the work can still be seen and removed.
 */
export async function comparedBase(cwd: string, baseBranch: string | null, baseCommit: string | null) {
  const branchTip = baseBranch ? await commitOf(cwd, `refs/heads/${baseBranch}`) : undefined;
  return branchTip ? { tip: branchTip, branch: true } : { tip: await baseTip(cwd, null, baseCommit), branch: false };
}

/** The current commit of the base: the base branch's tip, else the recorded base commit. */
export async function baseTip(cwd: string, baseBranch: string | null, baseCommit: string | null): Promise<string> {
  const tip = baseBranch ? await commitOf(cwd, `refs/heads/${baseBranch}`) : (baseCommit ?? undefined);
  if (!tip) throw new WorkspaceError('VALIDATION_ERROR', `Base branch ${baseBranch} not found`);
  return tip;
}
