// Workspaces (contract §20): the server with its local runner on a private tmux socket and a repository of 5,000
// files. Spawn → running including the worktree's creation (floor: a bare `git worktree add`), the diff of 200
// changed files, and the squash merge of a 50-file branch into a checked-out main.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, diskDir, endTmux, hasTmux, localRunnerEnv, median, startMaestro } from '../lib/harness.mjs';

export const name = 'worktrees';

const git = (cwd, ...args) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function run({ root, quick, bench }) {
  if (!hasTmux()) return [{ scenario: 'worktrees: skipped (no tmux)' }];
  const dir = diskDir('maestro-bench-worktrees-');
  const repo = join(dir, 'repo');
  const files = quick ? 1000 : 5000;
  mkdirSync(join(repo, 'src'), { recursive: true });
  for (let i = 0; i < files; i++) {
    const sub = join(repo, 'src', `d${i % 50}`);
    if (i < 50) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.ts`), `export const v${i} = ${i};\n`.repeat(20));
  }
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.name', 'Bench');
  git(repo, 'config', 'user.email', 'bench@example.com');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'initial');
  const socket = `maestro-bench-wt-${process.pid}`;
  let server;
  try {
    server = await startMaestro(root, dir, {
      ...localRunnerEnv(socket, `${process.execPath} ${join(bench, 'ticker.mjs')}`),
      MAESTRO_WORKTREES_DIR: join(dir, 'worktrees'),
    });
    const { url } = server;
    for (let i = 0; !(await call(url, 'GET', '/api/hosts')).some((h) => h.name === 'bench' && h.status === 'online'); i++) {
      if (i > 200) throw new Error('the local runner never came online');
      await sleep(50);
    }
    const project = await call(url, 'POST', '/api/projects', { name: 'Bench', workingDir: repo });
    const until = async (id, predicate) => {
      for (let i = 0; i < 2000; i++) {
        const s = await call(url, 'GET', `/api/sessions/${id}`);
        if (predicate(s)) return s;
        await sleep(5);
      }
      throw new Error(`session ${id} never got there`);
    };
    const spawn = async () => {
      const task = await call(url, 'POST', '/api/tasks', { projectId: project.id, title: 'bench worktree' });
      const t0 = performance.now();
      const { sessionId } = await call(url, 'POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent: 'custom' });
      await until(sessionId, (s) => s.run?.state !== 'pending' && s.workspace);
      const ms = performance.now() - t0;
      return { ms, session: await until(sessionId, (s) => s.run?.state === 'exited') };
    };

    const spawns = [];
    const floors = [];
    for (let i = 0; i < (quick ? 3 : 7); i++) {
      spawns.push((await spawn()).ms);
      const t0 = performance.now();
      git(repo, 'worktree', 'add', '-q', '-b', `floor-${i}`, join(dir, `floor-${i}`), 'main');
      floors.push(performance.now() - t0);
    }

    // The diff of 200 changed files (160 modified, 40 untracked).
    const { session: d } = await spawn();
    for (let i = 0; i < 200; i++) {
      const path = i < 160 ? join(d.workspace.path, 'src', `d${i % 50}`, `f${i}.ts`) : join(d.workspace.path, `new-${i}.ts`);
      writeFileSync(path, `export const changed${i} = true;\n`);
    }
    const diffs = [];
    let count = 0;
    for (let i = 0; i < (quick ? 3 : 7); i++) {
      const t0 = performance.now();
      count = (await call(url, 'GET', `/api/sessions/${d.id}/diff`)).files.length;
      diffs.push(performance.now() - t0);
    }

    // The squash merge of a 50-file branch (committed) into main, checked out in the repository.
    const merges = [];
    for (let round = 0; round < (quick ? 2 : 5); round++) {
      const { session: m } = await spawn();
      for (let i = 0; i < 50; i++)
        writeFileSync(join(m.workspace.path, 'src', `d${i}`, `f${i + 50 * (round + 1)}.ts`), `// round ${round}\n`);
      git(m.workspace.path, 'commit', '-q', '-a', '-m', 'bench: 50 files');
      const t0 = performance.now();
      await call(url, 'POST', `/api/sessions/${m.id}/merge`, { strategy: 'squash' });
      merges.push(performance.now() - t0);
    }
    return [
      {
        scenario: `spawn → running with a worktree (${files} files): median`,
        value: median(spawns),
        floor: median(floors),
        unit: 'ms',
        target: '< 1 s',
        met: median(spawns) < 1000,
      },
      {
        scenario: `diff of ${count} changed files: median`,
        value: median(diffs),
        unit: 'ms',
        target: '< 300 ms',
        met: median(diffs) < 300,
      },
      {
        scenario: 'squash merge of a 50-file branch: median',
        value: median(merges),
        unit: 'ms',
        target: '< 1 s',
        met: median(merges) < 1000,
      },
    ];
  } finally {
    await server?.stop();
    endTmux(socket);
    rmSync(dir, { recursive: true, force: true });
  }
}
