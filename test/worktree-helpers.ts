// Shared by the worktree tests: real repositories in temp dirs, `maestro host` runners on this run's own tmux sockets.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Call, ROOT, tempDir, until } from './helpers.js';
import { startRunner as startHarnessRunner } from './runner-harness.js';

export const GIT_AGENT = join(ROOT, 'test/fixtures/git-agent.mjs');
/** `git <args>` in `cwd` (argv, no shell), its stdout trimmed. */
export const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

/** A repository with one commit on `main`, a local identity, README.md, and an ignored `.env`. */
export function makeRepo(name = 'repo'): string {
  const dir = join(tempDir('maestro-wt-'), name);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Test User');
  git(dir, 'config', 'user.email', 'test@example.com');
  writeFileSync(join(dir, 'README.md'), 'first line\nsecond line\n');
  writeFileSync(join(dir, '.gitignore'), '.env\nnode_modules/\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  writeFileSync(join(dir, '.env'), 'SECRET=local\n');
  return dir;
}

/** Every file under `dir` (but `.git`) with its content: what "exactly as before" is compared on. */
export function filesOf(dir: string, base = dir): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name === '.git') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) Object.assign(out, filesOf(path, base));
    else out[path.slice(base.length + 1)] = readFileSync(path, 'utf8');
  }
  return out;
}

/** The whole state of a repository and its worktrees: refs, each index's bytes, each checkout's files. */
export function repoState(repo: string, worktrees: string[]) {
  const indexOf = (wt: string) => readFileSync(git(wt, 'rev-parse', '--path-format=absolute', '--git-path', 'index')).toString('base64');
  return {
    refs: git(repo, 'for-each-ref', '--format=%(refname) %(objectname)'),
    heads: [repo, ...worktrees].map((wt) => git(wt, 'rev-parse', 'HEAD')),
    indexes: [repo, ...worktrees].map(indexOf),
    files: [repo, ...worktrees].map((wt) => filesOf(wt)),
    status: [repo, ...worktrees].map((wt) => git(wt, 'status', '--porcelain')),
  };
}

/** `maestro host --name <name>` (test/runner-harness.ts) with its own worktree root, running the fake git agent. */
export const startRunner = (url: string, name: string, worktreesDir: string, env: Record<string, string> = {}) =>
  startHarnessRunner(url, name, {
    MAESTRO_WORKTREES_DIR: worktreesDir,
    MAESTRO_AGENT_COMMAND: `${process.execPath} ${GIT_AGENT}`,
    ...env,
  });

/** A git agent's commits and merges: slower than the fake agent's runs. */
const GIT_WAIT = { ms: 60_000 };

export const ended = (s: any) => ['completed', 'failed', 'stopped'].includes(s?.status);

/** Spawns one task titled `title` in `projectId` with the custom agent; resolves with the session once it ended. */
export async function spawnAndWait(call: Call, projectId: string, title: string, extra: Record<string, unknown> = {}) {
  const task = (await call('POST', '/api/tasks', { projectId, title })).body;
  const res = await call('POST', '/api/sessions/spawn', { projectId, taskIds: [task.id], agent: 'custom', ...extra });
  if (res.status !== 201) throw new Error(`spawn answered ${res.status}: ${JSON.stringify(res.body)}`);
  return until(call, `/api/sessions/${res.body.sessionId}`, (s) => ended(s) && s.run?.state !== 'running', GIT_WAIT);
}

/** Puts main back to its first content (the fake agent always writes the same files), as a new commit. */
export function resetMain(repo: string) {
  git(repo, 'rm', '-q', '--ignore-unmatch', '--', 'feature.txt', 'notes.txt', 'other.txt');
  writeFileSync(join(repo, 'README.md'), 'first line\nsecond line\n');
  git(repo, 'add', '--', 'README.md');
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'test: reset main');
}
