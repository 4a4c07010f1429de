// Request schemas of workspaces (contract §20): a project's settings, merge and diff options.
import * as v from 'valibot';

/** `git check-ref-format --branch` rules, as §20.1 lists them. */
export function isBranchName(name: string): boolean {
  if (name.length === 0 || name.length > 200 || name.startsWith('-') || name.startsWith('/') || name.endsWith('/')) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//') || name === '@') return false;
  if (/[\s~^:?*[\\\x00-\x1f\x7f]/.test(name)) return false;
  return name.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock')) && !name.endsWith('.');
}

const isCopyPath = (p: string) =>
  p.trim() !== '' &&
  p.length <= 256 &&
  !p.startsWith('/') &&
  !/^[A-Za-z]:/.test(p) &&
  !p.split(/[\\/]/).some((part) => part === '..' || part === '.git') &&
  !p.includes('\0');

export const WORKSPACE_MODES = ['auto', 'worktree', 'shared'] as const;
const mode = v.picklist(WORKSPACE_MODES, 'workspace.mode must be one of: auto, worktree, shared');

/** A project's `workspace` (§20.1). */
export const ProjectWorkspaceInput = v.object(
  {
    mode: v.optional(mode),
    baseBranch: v.optional(
      v.pipe(v.string('workspace.baseBranch must be a string'), v.check(isBranchName, 'workspace.baseBranch must be a valid branch name')),
    ),
    copy: v.optional(
      v.pipe(
        v.array(v.string('workspace.copy[] must be a string'), 'workspace.copy must be an array of strings'),
        v.maxLength(50, 'workspace.copy has at most 50 paths'),
        v.check(
          (paths) => paths.every(isCopyPath),
          'workspace.copy paths must be relative, without ".." or ".git", at most 256 characters',
        ),
      ),
    ),
    setup: v.optional(
      v.pipe(v.string('workspace.setup must be a string'), v.maxLength(4096, 'workspace.setup is at most 4096 characters')),
    ),
  },
  'workspace must be an object',
);

export const MergeRequest = v.object({
  strategy: v.optional(v.picklist(['squash', 'merge', 'rebase'], 'strategy must be one of: squash, merge, rebase'), 'squash'),
  message: v.optional(
    v.pipe(
      v.string('message must be a string'),
      v.maxLength(10_000, 'message is at most 10000 characters'),
      // (a commit message is an argument of git: it cannot hold a NUL)
      v.check((m) => !m.includes('\0'), 'message must not contain NUL characters'),
    ),
  ),
  commitUncommitted: v.optional(v.boolean('commitUncommitted must be a boolean'), true),
});
export type MergeRequest = v.InferOutput<typeof MergeRequest>;

const flag = (name: string) =>
  v.optional(
    v.pipe(
      v.picklist(['1', '0', 'true', 'false'], `${name} must be true or false`),
      v.transform((s) => s === '1' || s === 'true'),
    ),
    'false',
  );
export const DiffQuery = v.object({ stat: flag('stat') });
export const RemoveWorkspaceQuery = v.object({ force: flag('force') });
