import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_BIN, cliBaseEnv, onFileEnd, ROOT, showOnTimeout, startTestServer, tempDir, until, unusedLoopbackUrl } from './helpers.js';
import { killTmuxServer } from './runner-harness.js';

/*
 * Attention end to end (contract §21): a real server, a `maestro host` runner on this run's own tmux socket, and stub
 * executables named `claude` and `codex` on its PATH that read the configuration the launcher gave them and run the
 * hooks as the real tools do. Plus `maestro hook` as its own process, with the server down or garbage on stdin.
 */

const RUN = `ma${process.pid}`;
const STUBS = join(ROOT, 'test/fixtures/bin');
const FAKE_AGENT = join(ROOT, 'test/fixtures/fake-agent.mjs');
const socket = `${RUN}-att`;
onFileEnd(() => killTmuxServer(socket));

let runnerOutput = '';
showOnTimeout('runner att', () => runnerOutput);
/** The stubs start a node process per hook: slower than the fake agent. */
const HOOKED = { ms: 60_000 };
const SLOW = { timeout: 120_000 };

describe('agents report their attention through their own hooks', async () => {
  const server = await startTestServer();
  const workingDir = join(tempDir(), 'work');
  mkdirSync(workingDir);
  const runner = spawn(process.execPath, [CLI_BIN, 'host', '--name', 'att', '--server', server.url], {
    env: {
      ...cliBaseEnv(),
      PATH: `${STUBS}:${process.env.PATH}`,
      MAESTRO_TMUX_SOCKET: socket,
      // Longer than a stub's gap between two hooks on a loaded machine (each hook starts a node process).
      MAESTRO_IDLE_MS: '2000',
      MAESTRO_AGENT_COMMAND: `${process.execPath} ${FAKE_AGENT} {promptFile}`,
      MAESTRO_AGENT_WAITING: '^READY$',
    },
    stdio: 'pipe',
  });
  runner.stdout!.on('data', (c) => (runnerOutput += c));
  runner.stderr!.on('data', (c) => (runnerOutput += c));
  afterAll(() => void (runner.exitCode === null && runner.kill('SIGTERM')));
  const project = (await server.call('POST', '/api/projects', { name: 'Attention', workingDir })).body;
  const spawnAgent = async (title: string, agent: string) => {
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title })).body;
    const res = await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], host: 'att', agent });
    expect(res.status).toBe(201);
    return res.body.sessionId as string;
  };
  const attentionOf = (id: string, predicate: (a: any) => boolean) =>
    until(server.call, `/api/sessions/${id}`, (s) => s?.attention && predicate(s.attention), HOOKED);
  const screen = async (id: string) => (await server.call('GET', `/api/sessions/${id}/terminal?lines=50`)).body.text as string;

  it('is online with the stubs as its agents', SLOW, async () => {
    const host = await until(server.call, '/api/hosts/att', (h) => h?.status === 'online', HOOKED);
    expect(host.agents).toEqual(expect.arrayContaining(['claude', 'codex']));
  });

  it(
    'Claude Code: a permission request is needs_input with its reason; the answer typed in reaches the agent; Stop is idle',
    SLOW,
    async () => {
      const id = await spawnAgent('STUB:permission', 'claude');
      const waiting = await attentionOf(id, (a) => a.state === 'needs_input');
      expect(waiting).toMatchObject({ attention: { state: 'needs_input', source: 'hook', reason: 'Permission to use Bash' } });
      // Two hooks reported the one request: one timeline entry.
      expect(waiting.timeline.filter((e: any) => e.type === 'needs_input')).toHaveLength(1);
      // The launcher wired the hooks through a settings file in the session's directory, not the user's.
      expect(await screen(id)).toContain('STUB CLAUDE settings: given');
      const settings = JSON.parse(readFileSync(join(server.config.sessionDir, id, 'claude-settings.json'), 'utf8'));
      expect(Object.keys(settings.hooks)).toEqual([
        'Notification',
        'PermissionRequest',
        'PreToolUse',
        'PostToolUse',
        'UserPromptSubmit',
        'Stop',
      ]);
      expect((await server.call('POST', `/api/sessions/${id}/input`, { text: 'yes' })).status).toBe(200);
      const done = await attentionOf(id, (a) => a.state === 'idle');
      expect(done.attention).toMatchObject({ source: 'hook', reason: 'Finished its turn' });
      expect(await screen(id)).toContain('ANSWER:yes');
    },
  );

  it('Claude Code: AskUserQuestion is needs_input at once, with the question', SLOW, async () => {
    const id = await spawnAgent('STUB:question', 'claude');
    const waiting = await attentionOf(id, (a) => a.state === 'needs_input');
    expect(waiting.attention).toMatchObject({ source: 'hook', reason: 'Which database?' });
  });

  it("Codex: its PermissionRequest hook is needs_input; its notify program's turn-complete is idle", SLOW, async () => {
    const id = await spawnAgent('codex task', 'codex');
    const waiting = await attentionOf(id, (a) => a.state === 'needs_input');
    expect(waiting.attention).toMatchObject({ source: 'hook', reason: 'Permission to use Bash' });
    expect(await screen(id)).toContain('STUB CODEX notify: given');
    await server.call('POST', `/api/sessions/${id}/input`, { text: 'go' });
    const done = await attentionOf(id, (a) => a.state === 'idle');
    expect(done.attention.source).toBe('hook');
  });

  it(
    "the terminal: a custom agent's waiting prompt (MAESTRO_AGENT_WAITING) after a quiet spell is needs_input; typing is working",
    SLOW,
    async () => {
      const id = await spawnAgent('MODE:echo', 'custom');
      const waiting = await attentionOf(id, (a) => a.state === 'needs_input');
      expect(waiting.attention).toMatchObject({ source: 'terminal', reason: 'READY' });
      await server.call('POST', `/api/sessions/${id}/input`, { text: 'hello' });
      const typed = (await server.call('GET', `/api/sessions/${id}`)).body;
      expect(typed.attention).toMatchObject({ state: 'working', source: 'input' });
      await until(server.call, `/api/sessions/${id}/terminal`, (t) => t?.text?.includes('ECHO:hello'), HOOKED);
      // Quiet again, the prompt line still on screen.
      const again = await attentionOf(id, (a) => a.state === 'needs_input' && a.since > typed.attention.since);
      expect(again.attention.source).toBe('terminal');
    },
  );
});

describe('maestro hook never fails or slows the agent', () => {
  const hookRun = (args: string[], env: Record<string, string>, stdin: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [CLI_BIN, 'hook', ...args], { env: { ...cliBaseEnv(), ...env }, stdio: 'pipe' });
      let stderr = '';
      proc.stderr!.on('data', (c) => (stderr += c));
      proc.stdin!.end(stdin);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      proc.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });

  it('exits 0 with a warning when the server is down', SLOW, async () => {
    const env = { MAESTRO_SERVER_URL: await unusedLoopbackUrl(), MAESTRO_SESSION_ID: 'sess_x', MAESTRO_SESSION_TOKEN: 't' };
    const res = await hookRun(['Stop'], env, '{"hook_event_name":"Stop"}');
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('maestro hook: warning');
  });

  it('exits 0 on garbage stdin, outside a session, and with stdin left open', SLOW, async () => {
    const server = await startTestServer();
    const env = { MAESTRO_SERVER_URL: server.url, MAESTRO_SESSION_ID: 'sess_none' };
    expect((await hookRun(['Notification'], env, '\u0000{{{ not json')).code).toBe(0);
    expect((await hookRun(['Stop'], { MAESTRO_SERVER_URL: server.url }, '{}')).code).toBe(0);
    // stdin never closed: the hook reads until its deadline and still ends.
    const open = await new Promise<number | null>((resolve) => {
      const proc = spawn(process.execPath, [CLI_BIN, 'hook', 'Stop'], {
        env: { ...cliBaseEnv(), ...env },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      proc.once('close', resolve);
    });
    expect(open).toBe(0);
  });
});
