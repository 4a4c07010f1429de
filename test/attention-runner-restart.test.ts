import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_BIN, cliBaseEnv, freeLoopbackUrl, startTestServer, tempDir, until, unusedLoopbackUrl } from './helpers.js';
import { online, SLOW, startRunner, tmuxOut } from './runner-harness.js';

/*
 * A runner restarted while its agents run (`maestro host` again, or `maestro serve` with its local runner) follows
 * each agent's terminal again (§21) with the waiting prompts of the preset that agent was launched with, not the
 * runner's default: real `maestro host` processes on one tmux socket, the fake agent as a `custom` agent.
 */

describe('the terminal fallback after a runner restart', () => {
  it("keeps the agent's own preset: a custom agent's screen is not read with Claude Code's prompts", SLOW, async () => {
    const server = await startTestServer();
    // The runner's default preset is claude; the agent is spawned as `custom`, with no waiting prompt of its own.
    const env = { MAESTRO_AGENT: 'claude', MAESTRO_IDLE_MS: '1000' };
    const first = startRunner(server.url, 'again', env);
    await online(server.call, 'again');
    const project = (await server.call('POST', '/api/projects', { name: 'Restart', workingDir: tempDir() })).body;
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
    const spawned = await server.call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      host: 'again',
      agent: 'custom',
    });
    expect(spawned.status).toBe(201);
    const id: string = spawned.body.sessionId;
    const path = `/api/sessions/${id}`;
    await until(server.call, path, (s) => s?.attention?.state === 'idle');
    /** Types `line` into the agent and waits for the quiet after its echo: the terminal's verdict on that screen. */
    const typeAndWait = async (line: string) => {
      const typed = await server.call('POST', `${path}/input`, { text: line });
      expect(typed.status).toBe(200);
      const { since } = (await server.call('GET', path)).body.attention;
      return (
        await until(
          server.call,
          path,
          (s) => s?.attention?.source === 'terminal' && s.attention.since > since && s.attention.state !== 'working',
        )
      ).attention;
    };
    // A line that reads like Claude Code's permission menu, on a custom agent's screen: a custom agent has no prompts.
    expect(await typeAndWait('Do you want to proceed?')).toMatchObject({ state: 'idle' });

    await first.stop();
    await until(server.call, '/api/hosts/again', (h) => h?.status === 'offline');
    const second = startRunner(server.url, 'again', env);
    await online(server.call, 'again');
    expect(await typeAndWait('still here')).toMatchObject({ state: 'idle', reason: null });
    await server.call('POST', `${path}/stop`, {});
    await second.stop();
  });
});

describe("the runner's MAESTRO_IDLE_MS", () => {
  it('`maestro host` refuses a value the server would refuse, saying why, instead of quietly using 5,000 ms', async () => {
    const url = await unusedLoopbackUrl();
    for (const value of ['5s', '50', '-1', '2.5']) {
      // Bounded: a runner that took the value would keep trying to reach the server until killed.
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          [CLI_BIN, 'host', '--name', 'idle-check', '--server', url],
          { env: { ...cliBaseEnv(), MAESTRO_IDLE_MS: value, MAESTRO_TMUX_SOCKET: `idle-check-${process.pid}` }, timeout: 10_000 },
          (error, _stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
        );
        child.stdin?.end();
      });
      expect(result).toEqual({
        code: 1,
        stderr: `maestro: MAESTRO_IDLE_MS must be a whole number of milliseconds (at least 100), got "${value}"\n`,
      });
    }
  });
});

describe('a runner that lost its server', () => {
  it('tells the server, once back, what its agents did meanwhile: a prompt that appeared is needs_input', SLOW, async () => {
    const port = new URL(await freeLoopbackUrl()).port;
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, PORT: port };
    const first = await startTestServer(env);
    const runner = startRunner(first.url, 'away', { MAESTRO_IDLE_MS: '300', MAESTRO_AGENT_WAITING: '^ECHO:Proceed\\?$' });
    await online(first.call, 'away');
    const project = (await first.call('POST', '/api/projects', { name: 'Away', workingDir: tempDir() })).body;
    const task = (await first.call('POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
    const spawned = await first.call('POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      host: 'away',
      agent: 'custom',
    });
    const id: string = spawned.body.sessionId;
    await until(first.call, `/api/sessions/${id}/terminal`, (t) => typeof t?.text === 'string' && t.text.includes('READY'));

    // The server goes away (an upgrade, a crash); meanwhile the agent asks its question and goes quiet.
    await first.close();
    await expect.poll(() => runner.output(), { timeout: 20_000 }).toMatch(/disconnected/);
    tmuxOut(runner.socket, ['send-keys', '-t', `maestro-${id}`, '-l', 'Proceed?']);
    tmuxOut(runner.socket, ['send-keys', '-t', `maestro-${id}`, 'Enter']);

    // The runner's verdict on the quiet screen, which no server heard.
    await expect
      .poll(() => runner.output(), { timeout: 20_000 })
      .toMatch(new RegExp(`${id}: needs_input \\(ECHO:Proceed\\?\\), to tell the server`));

    const second = await startTestServer(env);
    const back = await until(second.call, `/api/sessions/${id}`, (s) => s?.attention?.state === 'needs_input', { ms: 20_000 });
    expect(back.attention).toMatchObject({ state: 'needs_input', source: 'terminal', reason: 'ECHO:Proceed?' });
    await second.call('POST', `/api/sessions/${id}/stop`, {});
    await runner.stop();
  });
});
