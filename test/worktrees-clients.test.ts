// Workspaces (contract §20): hostile names on a second runner, the rebase that stops half way, CLI and MCP clients.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { run } from '../lib/cli/program.js';
import { CLI_BIN, startTestServer, tempDir, until } from './helpers.js';
import { git, makeRepo, repoState, resetMain, spawnAndWait, startRunner } from './worktree-helpers.js';

const SLOW = { timeout: 180_000 };
const HOSTILE = `$(touch PWNED) \`touch PWNED2\`; rm -rf x 'q' "dq"`;

describe('hostile names stay data; a second runner does the git on its own machine', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const base = tempDir('maestro-wt-hostile-');
  const root = join(base, `root ${HOSTILE}`, '-wt');
  mkdirSync(root, { recursive: true });
  startRunner(server.url, 'remote', root);
  await until(call, '/api/hosts/remote', (h) => h?.status === 'online');
  const repo = makeRepo(`-repo ${HOSTILE}`);
  // An ignored directory (like node_modules) with a hostile file name, copied into each worktree.
  mkdirSync(join(repo, 'node_modules', `-dir ${HOSTILE}`), { recursive: true });
  writeFileSync(join(repo, 'node_modules', `-dir ${HOSTILE}`, `-odd ${HOSTILE}`), 'odd\n');
  const project = (
    await call('POST', '/api/projects', { name: 'Hostile', workingDir: repo, workspace: { copy: ['node_modules', '.env'] } })
  ).body;

  it('validates workspace settings and the spawn override', async () => {
    for (const workspace of [
      { baseBranch: '-main' },
      { baseBranch: 'a..b' },
      { baseBranch: 'has space' },
      { baseBranch: 'x:y' },
      { copy: ['../outside'] },
      { copy: ['/etc/passwd'] },
      { copy: ['.git'] }, // the worktree's own link to the repository
      { copy: ['sub/.git/config'] },
      { copy: 'not-a-list' },
      { setup: 'x'.repeat(4097) },
      { mode: 'sometimes' },
    ]) {
      const res = await call('PUT', `/api/projects/${project.id}`, { workspace });
      expect(res.status, JSON.stringify(workspace)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_ERROR');
    }
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 't' })).body;
    const bad = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], workspace: 'elsewhere' });
    expect(bad.status).toBe(400);
  });

  it('a title with $(…), backticks, ;, quotes, a newline and a leading dash makes a plain branch; nothing runs', async () => {
    const s = await spawnAndWait(call, project.id, `-${HOSTILE}\nsecond line WT:work`, { host: 'remote' });
    expect(s.status).toBe('completed');
    expect(s.workspace.branch).toMatch(/^maestro\/touch-pwned-touch-pwned2-rm-rf-x-q-dq-se-[0-9a-z]{6}$/);
    expect(s.workspace.path.startsWith(root)).toBe(true);
    expect(existsSync(join(s.workspace.path, 'node_modules', `-dir ${HOSTILE}`, `-odd ${HOSTILE}`))).toBe(true);
    const diff = await call('GET', `/api/sessions/${s.id}/diff`);
    expect(diff.status).toBe(200);
    expect(diff.body.files.map((f: any) => f.path)).toEqual(['README.md', 'feature.txt', 'notes.txt']);
    const merged = await call('POST', `/api/sessions/${s.id}/merge`, { message: HOSTILE });
    expect(merged.status).toBe(200);
    expect(git(repo, 'log', '-1', '--format=%s')).toBe(HOSTILE);
    for (const dir of [base, repo, s.workspace.path, process.cwd()]) {
      expect(existsSync(join(dir, 'PWNED'))).toBe(false);
      expect(existsSync(join(dir, 'PWNED2'))).toBe(false);
    }
  });

  it('a NUL in a merge message is a 400; one in the task title leaves the default message, and the merge works', async () => {
    resetMain(repo);
    // (the agent may not even start with such a title; its worktree is made before it, and holds the work)
    const s = await spawnAndWait(call, project.id, 'Fix the \u0000 parser', { host: 'remote' });
    writeFileSync(join(s.workspace.path, 'parser.txt'), 'fixed\n');
    const mainBefore = git(repo, 'rev-parse', 'main');
    const refused = await call('POST', `/api/sessions/${s.id}/merge`, { message: 'one\u0000two' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'VALIDATION_ERROR', message: 'message must not contain NUL characters' });
    expect(git(repo, 'rev-parse', 'main')).toBe(mainBefore);
    const merged = await call('POST', `/api/sessions/${s.id}/merge`, {});
    expect(merged.status).toBe(200);
    expect(git(repo, 'log', '-1', '--format=%B', 'main')).toBe(`Fix the  parser\n\nMaestro session ${s.id}`);
  });

  it("maestro diff quotes a file name with control characters: no escape sequence reaches the person's terminal", async () => {
    resetMain(repo);
    const s = await spawnAndWait(call, project.id, 'Odd names', { host: 'remote' });
    const name = 'red \u001b[31mALERT\u001b]2;title\u0007\nsecond line.txt';
    writeFileSync(join(s.workspace.path, name), 'x\n');
    const out: string[] = [];
    const code = await run(['--server', server.url, 'diff', s.id, '--stat'], {
      env: {},
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
    });
    expect(code).toBe(0);
    expect(out.join('')).toBe(`${s.workspace.branch} → main: 1 file(s) changed\n  A +1 -0        ${JSON.stringify(name)}\n`);
  });

  it('a rebase that stops on a conflict the 3-way merge does not see puts everything back', async () => {
    resetMain(repo);
    const s = await spawnAndWait(call, project.id, 'Flip flop WT:none', { host: 'remote' });
    const wt = s.workspace.path;
    // The branch changes line 1 and changes it back: as a whole it changes nothing there, but replaying the
    // first commit onto a main that rewrote line 1 stops on a conflict.
    writeFileSync(join(wt, 'README.md'), 'flip\nsecond line\n');
    git(wt, 'commit', '-q', '-a', '-m', 'flip');
    writeFileSync(join(wt, 'README.md'), 'first line\nsecond line\n');
    writeFileSync(join(wt, 'other.txt'), 'other\n');
    git(wt, 'add', '-A');
    git(wt, 'commit', '-q', '-m', 'flop');
    writeFileSync(join(wt, 'uncommitted.txt'), 'wip\n');
    writeFileSync(join(repo, 'README.md'), 'main rewrote the first line\nsecond line\n');
    git(repo, 'commit', '-q', '-a', '-m', 'main: line 1');
    expect((await call('GET', `/api/sessions/${s.id}/diff?stat=1`)).body.conflicts).toEqual([]);
    const before = repoState(repo, [wt]);
    const res = await call('POST', `/api/sessions/${s.id}/merge`, { strategy: 'rebase' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'MERGE_CONFLICT', details: { files: ['README.md'] } });
    expect(repoState(repo, [wt])).toEqual(before);
    // The same branch squashes cleanly.
    expect((await call('POST', `/api/sessions/${s.id}/merge`, { strategy: 'squash' })).status).toBe(200);
  });

  it('CLI: diff, merge, workspace rm and prune; MCP: session_diff and session_merge', async () => {
    const lines: string[] = [];
    const cli = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await run(['--server', server.url, ...argv], {
        env: { MAESTRO_WORKTREES_DIR: root },
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
      });
      lines.push(...out, ...err);
      return { code, out: out.join(''), err: err.join('') };
    };
    resetMain(repo);
    const a = await spawnAndWait(call, project.id, 'Cli one WT:work', { host: 'remote' });
    const diff = await cli('diff', a.id, '--stat');
    expect(diff.code).toBe(0);
    expect(diff.out).toContain(`${a.workspace.branch} → main: 3 file(s) changed`);
    expect(diff.out).toMatch(/A \+2 -0\s+feature\.txt/);
    expect(diff.out).not.toContain('@@');
    const full = await cli('diff', a.id);
    expect(full.out).toContain('+untracked notes');
    const refused = await cli('workspace', 'rm', a.id);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      'maestro: The worktree holds work that is not in the base branch: 1 uncommitted, 1 untracked, 1 unmerged commit(s)\n',
    );
    const merged = await cli('merge', a.id, '--strategy', 'merge', '-m', 'cli merge');
    expect(merged.code).toBe(0);
    expect(merged.out).toMatch(/^Merged into main \(merge\): [0-9a-f]{40}/);
    const removed = await cli('workspace', 'rm', a.id);
    expect(removed.out).toContain(`refs/maestro/archive/${a.id}`);

    // MCP, as an agent's client starts it.
    resetMain(repo);
    const b = await spawnAndWait(call, project.id, 'Mcp WT:work', { host: 'remote' });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI_BIN, 'mcp'],
      env: { PATH: process.env.PATH!, MAESTRO_API_URL: server.url },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'wt-test', version: '1.0.0' });
    await client.connect(transport);
    const tool = async (name: string, args: Record<string, unknown>) =>
      JSON.parse(((await client.callTool({ name, arguments: args })) as { content: { text: string }[] }).content[0]!.text);
    expect((await tool('session_diff', { sessionId: b.id, stat: true })).files).toHaveLength(3);
    expect(await tool('session_merge', { sessionId: b.id, strategy: 'squash' })).toMatchObject({ baseBranch: 'main', strategy: 'squash' });
    await client.close();

    // Prune: a deleted session with work is kept (then forced), a merged one and a gone clean one are removed.
    const c = await spawnAndWait(call, project.id, 'Orphan WT:conflict', { host: 'remote' });
    await call('DELETE', `/api/sessions/${c.id}`);
    expect(existsSync(c.workspace.path)).toBe(true);
    const kept = await cli('workspace', 'prune');
    expect(kept.out).toContain(
      `kept ${c.workspace.path}: session gone, but it holds work: 0 uncommitted, 0 untracked, 1 unmerged commit(s)`,
    );
    expect(kept.out).toContain(`removed ${b.workspace.path}: session merged`);
    const forced = await cli('workspace', 'prune', '--force');
    expect(forced.out).toContain(`removed ${c.workspace.path}: session gone; state kept as refs/maestro/archive/${c.id}`);
    expect(git(repo, 'show', `refs/maestro/archive/${c.id}:README.md`)).toBe('agent version of the first line');
    // Only the records of live worktrees remain (those not merged or removed through the API were pruned).
    const records = readdirSync(join(root, readdirSync(root)[0]!)).filter((f) => f.endsWith('.json'));
    expect(records).not.toContain(`${c.id}.json`);
    expect(records).not.toContain(`${b.id}.json`);
  });
});
