// `maestro diff`, `maestro merge`, `maestro workspace rm|prune` (contract §20.6).
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import type { Session } from '../domain/types.js';
import type { WorkspaceReport } from '../runner-protocol.js';
import type { CliError } from './client.js';
import { action, type Ctx } from './context.js';

const sessionPath = (id: string) => `/api/sessions/${encodeURIComponent(id)}`;
const MARK = { added: 'A', modified: 'M', deleted: 'D', renamed: 'R' } as Record<string, string>;

interface Diff {
  branch: string | null;
  baseBranch: string | null;
  files: { path: string; oldPath?: string; status: string; additions: number; deletions: number; binary: boolean }[];
  conflicts: string[];
  patch: string;
  truncated: boolean;
}

/**
 * A path as a terminal may show it: quoted, with escapes, when it holds control characters (as git quotes them),
 * so that an agent's file name can neither break the list's lines nor send escape sequences to the terminal.
 */
const shown = (path: string) => (/[\x00-\x1f\x7f]/.test(path) ? JSON.stringify(path) : path);

function diffText(d: Diff): string {
  const lines = [`${d.branch} → ${d.baseBranch ?? '(no base branch)'}: ${d.files.length} file(s) changed`];
  for (const f of d.files) {
    const counts = f.binary ? 'binary' : `+${f.additions} -${f.deletions}`;
    lines.push(`  ${MARK[f.status] ?? '?'} ${counts.padEnd(12)} ${f.oldPath ? `${shown(f.oldPath)} → ` : ''}${shown(f.path)}`);
  }
  if (d.conflicts.length) lines.push(`Would conflict with ${d.baseBranch}: ${d.conflicts.map(shown).join(', ')}`);
  if (d.patch) lines.push('', d.patch.trimEnd());
  if (d.truncated) lines.push('(patch cut at 2 MiB)');
  return lines.join('\n');
}

export function workspaceCommands(program: Command) {
  program
    .command('diff [sessionId]')
    .description("What a session's agent changed in its worktree (default: this terminal's session)")
    .option('--stat', 'only the list of files')
    .action(
      action(async (ctx, id: string | undefined, opts: { stat?: boolean }) => {
        const d = await ctx.client.get<Diff>(`${sessionPath(ctx.sessionId(id))}/diff${opts.stat ? '?stat=1' : ''}`);
        ctx.out(d, diffText);
      }),
    );

  program
    .command('merge <sessionId>')
    .description("Merge a session's worktree branch into its base branch")
    .addOption(new Option('--strategy <strategy>', 'how').choices(['squash', 'merge', 'rebase']).default('squash'))
    .option('-m, --message <message>', 'commit message (squash and merge)')
    .action(
      action(async (ctx, id: string, opts: { strategy: string; message?: string }) => {
        const body = { strategy: opts.strategy, ...(opts.message !== undefined && { message: opts.message }) };
        try {
          const r = await ctx.client.post<{ baseBranch: string; commit: string }>(`${sessionPath(id)}/merge`, body);
          ctx.out(r, () => `Merged into ${r.baseBranch} (${opts.strategy}): ${r.commit}`);
        } catch (error) {
          const files = ((error as CliError).details as { files?: unknown } | undefined)?.files;
          if (Array.isArray(files) && files.length) (error as CliError).message += `: ${files.map(String).map(shown).join(', ')}`;
          throw error;
        }
      }),
    );

  const workspace = program.command('workspace').description("Sessions' git worktrees");
  workspace
    .command('rm <sessionId>')
    .description("Remove a session's worktree (its state is kept under refs/maestro/archive/<sessionId>)")
    .option('--force', 'also when it holds work that is not merged')
    .action(
      action(async (ctx, id: string, opts: { force?: boolean }) => {
        const s = await ctx.client.delete<Session>(`${sessionPath(id)}/workspace${opts.force ? '?force=true' : ''}`);
        ctx.out(
          s,
          () =>
            `Removed ${s.workspace?.path}; ${s.workspace?.archiveRef ? `its state is kept as ${s.workspace.archiveRef}` : 'nothing was left to keep'}`,
        );
      }),
    );
  workspace
    .command('prune')
    .description('On this machine: remove worktrees whose session is gone or merged (unmerged work only with --force)')
    .option('--force', 'also remove worktrees holding unmerged work (archived first)')
    .action(action(async (ctx, opts: { force?: boolean }) => prune(ctx, Boolean(opts.force))));
}

interface Outcome {
  path: string;
  sessionId: string;
  removed: boolean;
  reason: string;
}

/** `maestro workspace prune`: reads the records beside the worktrees under this machine's root. */
async function prune(ctx: Ctx, force: boolean) {
  const { worktreesRoot } = await import('../runner/worktree-create.js');
  const { removeWorkspace } = await import('../runner/git-remove.js');
  const root = worktreesRoot(ctx.env.MAESTRO_WORKTREES_DIR);
  const outcomes: Outcome[] = [];
  const repos = existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()) : [];
  for (const repo of repos) {
    for (const file of readdirSync(join(root, repo.name)).filter((f) => f.endsWith('.json'))) {
      const recordFile = join(root, repo.name, file);
      const record = JSON.parse(readFileSync(recordFile, 'utf8')) as WorkspaceReport & { sessionId: string };
      const { sessionId, path } = record;
      const session = await ctx.client.get<Session>(sessionPath(sessionId)).catch((error: CliError) => {
        if (error.code === 'SESSION_NOT_FOUND') return null;
        throw error;
      });
      const state = session?.workspace?.state;
      if (session && state === 'active') {
        outcomes.push({ path, sessionId, removed: false, reason: `session ${session.status}, worktree in use` });
        continue;
      }
      const why = session ? `session ${state ?? 'without a workspace'}` : 'session gone';
      if (!existsSync(path)) {
        rmSync(recordFile, { force: true });
        outcomes.push({ path, sessionId, removed: true, reason: `${why}; the directory was already gone` });
        continue;
      }
      try {
        const removed = await removeWorkspace(sessionId, record, force);
        outcomes.push({ path, sessionId, removed: true, reason: `${why}; state kept as ${removed.archiveRef}` });
      } catch (error) {
        const d = (error as { details?: Record<string, unknown> }).details;
        const held = d ? `${d.uncommitted} uncommitted, ${d.untracked} untracked, ${d.unmergedCommits} unmerged commit(s)` : '';
        outcomes.push({
          path,
          sessionId,
          removed: false,
          reason: held ? `${why}, but it holds work: ${held} (--force removes it, archived)` : (error as Error).message,
        });
      }
    }
  }
  ctx.out(outcomes, (list) =>
    list.length ? list.map((o) => `${o.removed ? 'removed' : 'kept'} ${o.path}: ${o.reason}`).join('\n') : `No worktrees under ${root}`,
  );
}
