import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { onFileEnd, tempDir } from './helpers.js';
import { SLOW, tmuxOut } from './runner-harness.js';
import { git, makeRepo, startRunner } from './worktree-helpers.js';

/**
 * A real `maestro host` against a stand-in server that says what the real one may say: the same launch twice, at once
 * (two instances of a team can both send a waiting spawn's launch when its runner connects, §22.2).
 */
describe('a launch sent twice', SLOW, () => {
  it('starts one agent in one worktree and reports no failure', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/api/hosts/connect' });
    onFileEnd(() => new Promise((r) => wss.close(r)));
    await new Promise((r) => wss.once('listening', r));
    const received: any[] = [];
    const sessionId = 'sess_twice';
    const repo = makeRepo();
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const message = JSON.parse(String(data));
        received.push(message);
        if (message.type !== 'hello') return;
        ws.send(JSON.stringify({ type: 'welcome', name: message.name }));
        const launch = {
          type: 'launch',
          sessionId,
          cwd: repo,
          argv: ['maestro', 'worker', 'init'],
          env: {},
          workspace: { mode: 'worktree', title: 'Twice' },
        };
        ws.send(JSON.stringify(launch));
        ws.send(JSON.stringify(launch));
      });
    });
    const worktrees = tempDir();
    const { port } = wss.address() as { port: number };
    const runner = startRunner(`http://127.0.0.1:${port}`, 'twice', worktrees);
    await expect.poll(() => received.some((m) => m.type === 'started'), { timeout: 30_000 }).toBe(true);
    // The runner reports each agent's worktree before starting it: a second launch at work would have reported by now.
    expect(received.filter((m) => m.type === 'workspace')).toHaveLength(1);
    expect(received.filter((m) => m.type === 'failed')).toEqual([]);
    expect(tmuxOut(runner.socket, ['list-sessions', '-F', '#{session_name}']).trim().split('\n')).toHaveLength(1);
    // The repository has its own checkout and the agent's worktree, no other.
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(2);
  });
});
