import { describe, expect, it } from 'vitest';
import { run } from '../lib/cli/program.js';
import { type Attention, type AttentionSignal, isHeld, transition } from '../lib/domain/attention.js';
import { hookState } from '../lib/domain/hook-events.js';
import { waitingLine, waitingPrompts } from '../lib/runner/attention.js';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, tempDir } from './helpers.js';

/*
 * Attention (contract §21): the state machine, the hook table, the terminal's prompt matching, and the server's side
 * over a real server with a runner played by this test over the runner protocol (so every terminal report is exact).
 */

const at = (state: 'working' | 'needs_input' | 'idle', source: AttentionSignal['source'], reason: string | null = null): Attention => ({
  state,
  since: 1,
  reason,
  source,
});

describe('the attention state machine', () => {
  /*
   * [name, attention before, signal, expected state after ('same': nothing changes; 'source': only who holds it), held
   * after]. Whether a hook or report holds the state is read from the attention itself (isHeld), so it is stored.
   */
  const table: [string, Attention | null, AttentionSignal, string, boolean][] = [
    ['first output of a launched agent', null, { source: 'terminal', state: 'working' }, 'working', false],
    ['quiet terminal', at('working', 'terminal'), { source: 'terminal', state: 'idle' }, 'idle', false],
    ['waiting prompt on screen', at('working', 'terminal'), { source: 'terminal', state: 'needs_input' }, 'needs_input', false],
    ['hook permission request', at('working', 'terminal'), { source: 'hook', state: 'needs_input', reason: 'Bash' }, 'needs_input', true],
    ['the second hook of the same request', at('needs_input', 'hook'), { source: 'hook', state: 'needs_input' }, 'same', true],
    ['terminal quiet while a hook holds', at('needs_input', 'hook'), { source: 'terminal', state: 'idle' }, 'same', true],
    ['terminal prompt while a hook holds', at('working', 'hook'), { source: 'terminal', state: 'needs_input' }, 'same', true],
    ['output releases the hold', at('needs_input', 'hook'), { source: 'terminal', state: 'working' }, 'working', false],
    ['output with the same state still releases', at('working', 'hook'), { source: 'terminal', state: 'working' }, 'source', false],
    [
      'a hook confirming the terminal takes the hold',
      at('needs_input', 'terminal'),
      { source: 'hook', state: 'needs_input' },
      'source',
      true,
    ],
    ['input after a working hook releases', at('working', 'hook'), { source: 'input', state: 'working' }, 'source', false],
    ['output after input changes nothing', at('working', 'input'), { source: 'terminal', state: 'working' }, 'same', false],
    ['Stop hook', at('working', 'hook'), { source: 'hook', state: 'idle' }, 'idle', true],
    ['typed input', at('needs_input', 'hook'), { source: 'input', state: 'working' }, 'working', false],
    ['report needs-input', at('working', 'terminal'), { source: 'report', state: 'needs_input', reason: 'Which DB?' }, 'needs_input', true],
    ['turn ends after a reported question', at('needs_input', 'report'), { source: 'hook', state: 'idle' }, 'same', true],
    ['quiet after a reported question', at('needs_input', 'report'), { source: 'terminal', state: 'idle' }, 'same', true],
    ['a hook confirming a reported question', at('needs_input', 'report'), { source: 'hook', state: 'needs_input' }, 'same', true],
    ['report progress', at('needs_input', 'report'), { source: 'report', state: 'working' }, 'working', false],
    ['quiet after a progress report', at('working', 'report'), { source: 'terminal', state: 'idle' }, 'idle', false],
    ['a hook question after a hook idle', at('idle', 'hook'), { source: 'hook', state: 'needs_input' }, 'needs_input', true],
  ];
  it.each(table)('%s', (_name, before, signal, expected, held) => {
    const { next, changed, announced } = transition(before, signal, 42);
    expect(changed).toBe(expected !== 'same');
    expect(announced).toBe(expected !== 'same' && expected !== 'source');
    if (expected === 'same') expect(next).toEqual(before);
    else if (expected === 'source') expect(next).toEqual({ ...before, source: signal.source });
    else
      expect(next).toEqual({
        state: expected,
        since: 42,
        reason: expected === 'working' ? null : (signal.reason ?? null),
        source: signal.source,
      });
    expect(isHeld(next)).toBe(held);
  });
});

describe('what each hook event says', () => {
  const table: [string, object, string | undefined, string?][] = [
    [
      'Notification',
      { message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' },
      'needs_input',
      'Claude needs your permission to use Bash',
    ],
    ['Notification', { message: 'Claude is waiting for your input', notification_type: 'idle_prompt' }, 'idle'],
    ['Notification', { notification_type: 'auth_success' }, undefined],
    [
      'Notification',
      { message: 'MCP server "db" requests your input', notification_type: 'elicitation_dialog' },
      'needs_input',
      'MCP server "db" requests your input',
    ],
    ['Notification', { message: 'Response sent to MCP server "db"', notification_type: 'elicitation_response' }, 'working'],
    ['Notification', { message: 'MCP server "db" elicitation complete', notification_type: 'elicitation_complete' }, 'working'],
    ['PermissionRequest', { tool_name: 'Bash' }, 'needs_input', 'Permission to use Bash'],
    [
      'PreToolUse',
      { tool_name: 'AskUserQuestion', tool_input: { questions: [{ question: 'Which database?' }] } },
      'needs_input',
      'Which database?',
    ],
    ['PreToolUse', { tool_name: 'ExitPlanMode' }, 'needs_input', 'A plan is ready for your approval'],
    ['PreToolUse', { tool_name: 'Bash' }, 'working'],
    ['PostToolUse', { tool_name: 'Bash' }, 'working'],
    ['UserPromptSubmit', {}, 'working'],
    ['Stop', {}, 'idle'],
    ['BeforeAgent', {}, 'working'],
    ['AfterAgent', {}, 'idle'],
    ['notify', { type: 'agent-turn-complete' }, 'idle'],
    ['notify', { type: 'something-else' }, undefined],
    ['SessionStart', {}, undefined],
  ];
  it.each(table)('%s %j', (event, payload, state, reason) => {
    const said = hookState(event, payload);
    expect(said?.state).toBe(state);
    if (reason) expect(said?.reason).toBe(reason);
  });
});

describe("the terminal's waiting prompts", () => {
  const claude = waitingPrompts('claude', undefined);
  it('finds a Claude Code permission menu in the last screen lines', () => {
    const screen = [
      'Bash command',
      '  rm -rf build',
      '╭──╮',
      '│ Do you want to proceed?  │',
      '│ ❯ 1. Yes │',
      '│   2. No, and tell Claude what to do differently (esc) │',
      '',
    ].join('\n');
    expect(waitingLine(screen, claude)).toBe('Do you want to proceed?');
  });
  it('sees no prompt on a plain screen, nor in a shell', () => {
    expect(waitingLine('npm test\nall 40 tests passed\n> ', claude)).toBeUndefined();
    expect(waitingPrompts('shell', undefined)).toEqual([]);
  });
  it('takes MAESTRO_AGENT_WAITING for custom, and ignores one that is no regular expression', () => {
    expect(waitingLine('Continue? [y/N]', waitingPrompts('custom', '\\[y/N\\]$'))).toBe('Continue? [y/N]');
    expect(waitingPrompts('custom', '([')).toEqual([]);
    expect(waitingPrompts('codex', undefined).some((p) => p.test('Would you like to run the following command?'))).toBe(true);
  });
});

describe('attention on the server (a runner played over the protocol)', async () => {
  const server = await startTestServer();
  const runner = await fakeRunner(server.url, { name: 'fake' });
  // Answer typed input as a runner does.
  runner.ws.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.type === 'input') runner.send({ type: 'reply', id: message.id, ok: true });
  });
  const { next, send } = runner;
  runner.hello();
  await next('welcome');

  const project = (await server.call('POST', '/api/projects', { name: 'Attention', workingDir: tempDir() })).body;
  const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Work' })).body;
  const spawned = (
    await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], host: 'fake', agent: 'claude' })
  ).body;
  const id: string = spawned.sessionId;
  const token: string = spawned.envVars.MAESTRO_SESSION_TOKEN;
  await next('launch');
  const listener = await server.listen();
  const get = async () => (await server.call('GET', `/api/sessions/${id}`)).body;
  /** Sends runner frames and waits for the `count` events they cause (frames are handled in order). */
  const runnerSays = async (count: number, ...messages: object[]) => {
    await listener.drain();
    for (const message of messages) send(message);
    const events = await listener.waitFor(count);
    listener.clear();
    return events;
  };
  const hook = (event: string, payload: object = {}, auth = token) =>
    server.call('POST', `/api/sessions/${id}/attention`, { event, payload }, { authorization: `Bearer ${auth}` });

  it('is null before launch, and moves with the terminal once the agent runs', async () => {
    expect((await get()).attention).toBeNull();
    send({ type: 'started', sessionId: id, pid: 4242 });
    await listener.waitFor(1);
    const [updated, attention] = await runnerSays(2, { type: 'attention', sessionId: id, state: 'working' });
    expect(updated.type).toBe('session:updated');
    expect(updated.data.attention).toMatchObject({ state: 'working', source: 'terminal', reason: null });
    expect(attention).toMatchObject({
      type: 'session:attention',
      data: { sessionId: id, attention: { state: 'working', source: 'terminal' } },
    });
  });

  it('counts a permission request that two hooks report as one change, with one timeline entry', async () => {
    await listener.drain();
    expect((await hook('PermissionRequest', { tool_name: 'Bash' })).body.attention).toMatchObject({ state: 'needs_input', source: 'hook' });
    const res = await hook('Notification', { message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' });
    expect(res.status).toBe(200);
    const events = await listener.drain();
    expect(events.map((e) => e.type)).toEqual(['session:updated', 'session:attention']);
    expect(events[1].data.attention.reason).toBe('Permission to use Bash');
    const session = await get();
    expect(session.timeline.filter((e: any) => e.type === 'needs_input').map((e: any) => e.message)).toEqual(['Permission to use Bash']);
  });

  it('lists sessions by attention, and refuses an unknown attention value', async () => {
    expect((await server.call('GET', '/api/sessions?attention=needs_input')).body.map((s: any) => s.id)).toEqual([id]);
    expect((await server.call('GET', '/api/sessions?attention=idle')).body).toEqual([]);
    const bad = await server.call('GET', '/api/sessions?attention=busy');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_ERROR');
  });

  it('`maestro attention` lists the waiting sessions with their reason; `watch --attention` prints only attention changes', async () => {
    const env = { MAESTRO_SERVER_URL: server.url };
    let out = '';
    expect(await run(['attention'], { env, stdout: (t) => (out += t), stderr: (t) => (out += t) })).toBe(0);
    expect(out).toMatch(new RegExp(`^${id}  needs_input .* — Permission to use Bash\n$`));
    const stop = new AbortController();
    let watched = '';
    const { latestSeq } = (await server.call('GET', '/api/events?since=0&limit=1')).body;
    const seen = new Promise<void>((resolve) => {
      const write = (text: string) => {
        watched += text;
        if (watched.includes('working (terminal)')) resolve();
      };
      void run(['watch', '--attention', '--since', String(latestSeq)], { env, stdout: write, stderr: () => {}, signal: stop.signal });
    });
    await runnerSays(2, { type: 'attention', sessionId: id, state: 'working' });
    await seen;
    stop.abort();
    expect(watched.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^#\\d+  \\S+  ${id}  working \\(terminal\\)$`))]);
    out = '';
    await run(['attention'], { env, stdout: (t) => (out += t), stderr: () => {} });
    expect(out).toBe('No agent is waiting for you.\n');
    // Back to waiting, for the tests below.
    await hook('PermissionRequest', { tool_name: 'Bash' });
  });

  it("keeps the hook's state over the terminal's quiet until the next output", async () => {
    // The quiet spell is ignored: the only change is the output's (else idle's events would come first).
    const events = await runnerSays(
      2,
      { type: 'attention', sessionId: id, state: 'idle' },
      { type: 'attention', sessionId: id, state: 'needs_input', reason: 'Do you want to proceed?' },
      { type: 'attention', sessionId: id, state: 'working' },
    );
    expect(events.map((e) => `${e.type} ${e.data.attention.state}`)).toEqual(['session:updated working', 'session:attention working']);
    await runnerSays(2, { type: 'attention', sessionId: id, state: 'idle' });
    expect((await get()).attention).toMatchObject({ state: 'idle', source: 'terminal' });
  });

  it('takes reports from `maestro report`, and typed input sets working', async () => {
    const env = { MAESTRO_SERVER_URL: server.url, MAESTRO_SESSION_ID: id, MAESTRO_SESSION_TOKEN: token };
    const out: string[] = [];
    expect(
      await run(['report', 'needs-input', 'Which', 'database?'], { env, stdout: (t) => out.push(t), stderr: (t) => out.push(t) }),
    ).toBe(0);
    let session = await get();
    expect(session.attention).toMatchObject({ state: 'needs_input', source: 'report', reason: 'Which database?' });
    // The report is the timeline entry: no second one.
    expect(session.timeline.filter((e: any) => e.message === 'Which database?')).toHaveLength(1);
    // The agent ends its turn after asking: it still waits for the answer.
    await hook('Stop');
    expect((await get()).attention.state).toBe('needs_input');
    expect((await server.call('POST', `/api/sessions/${id}/input`, { text: 'PostgreSQL' })).status).toBe(200);
    session = await get();
    expect(session.attention).toMatchObject({ state: 'working', source: 'input', reason: null });
    expect(await run(['report', 'progress', 'half', 'way'], { env, stdout: () => {}, stderr: () => {} })).toBe(0);
    expect((await get()).attention.state).toBe('working');
  });

  it("the command its prompt gives for asking a person puts the agent on the person's list, with the question", async () => {
    const env = { ...spawned.envVars, MAESTRO_SERVER_URL: server.url };
    let prompt = '';
    expect(await run(['worker', 'init', '--print-prompt'], { env, stdout: (t) => (prompt += t), stderr: () => {} })).toBe(0);
    const line = prompt.split('\n').find((l) => l.includes('decision from a person'))!;
    const [, kind] = /`maestro report (\S+) "<question>"`/.exec(line) ?? [];
    expect(kind, line).toBeDefined();
    await run(['report', kind!, 'Staging or production?'], { env, stdout: () => {}, stderr: () => {} });
    expect((await get()).attention).toMatchObject({ state: 'needs_input', reason: 'Staging or production?' });
    expect((await server.call('GET', '/api/sessions?attention=needs_input')).body.map((s: any) => s.id)).toEqual([id]);
    await hook('UserPromptSubmit');
  });

  it("refuses another session's hook, an unknown session and a body that is not a hook", async () => {
    // A task of its own: a spawned task is taken by its session (§24.7).
    const otherTask = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Other work' })).body;
    const other = (
      await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [otherTask.id], host: 'fake', agent: 'claude' })
    ).body;
    expect((await hook('Stop', {}, other.envVars.MAESTRO_SESSION_TOKEN)).status).toBe(403);
    const missing = await server.call('POST', '/api/sessions/sess_nope/attention', { event: 'Stop' });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('SESSION_NOT_FOUND');
    for (const body of [{}, { event: 'rm -rf /' }, { event: 'Stop', payload: [] }, '{not json']) {
      const res = await server.call('POST', `/api/sessions/${id}/attention`, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe(true);
    }
  });

  it('leaves sessions without a runner at null', async () => {
    const plain = (await server.call('POST', '/api/sessions', { projectId: project.id, taskIds: [] })).body;
    const res = await server.call('POST', `/api/sessions/${plain.id}/attention`, { event: 'Notification', payload: { message: 'hi' } });
    expect(res.body).toEqual({ sessionId: plain.id, attention: null });
    expect((await server.call('GET', `/api/sessions/${plain.id}`)).body.attention).toBeNull();
  });

  it('keeps the last attention once the agent exited', async () => {
    await hook('Stop');
    await runnerSays(
      1,
      { type: 'exited', sessionId: id, exitCode: 0, signal: null },
      { type: 'attention', sessionId: id, state: 'working' },
    );
    // A fence: nothing more came of the terminal's report after the exit.
    expect(await listener.drain()).toEqual([]);
    const session = await get();
    expect(session.status).toBe('completed');
    expect(session.attention.state).toBe('idle');
    runner.ws.close();
  });
});
