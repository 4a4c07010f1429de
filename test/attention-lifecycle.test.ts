import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { run } from '../lib/cli/program.js';
import { type FakeRunner, fakeRunner } from './fake-runner.js';
import { onFileEnd, startTestServer, tempDir, until } from './helpers.js';
import { freshDatabaseUrl, hasPostgres } from './postgres.js';

/*
 * A hook's state wins over the terminal's until the next output (§21), whichever instance heard the hook and whether
 * or not the server restarted in between: the hold is part of what is stored, not one process's memory.
 */

/** A runner-managed claude agent on `server`, launched and running, its runner played over the protocol. */
async function runningAgent(server: Awaited<ReturnType<typeof startTestServer>>, connected?: FakeRunner) {
  const runner = connected ?? (await fakeRunner(server.url, { name: 'fake' }));
  if (!connected) {
    runner.hello();
    await runner.next('welcome');
  }
  const project = (await server.call('POST', '/api/projects', { name: 'Held', workingDir: tempDir() })).body;
  const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Work' })).body;
  const spawn = { projectId: project.id, taskIds: [task.id], host: 'fake', agent: 'claude' };
  const spawned = (await server.call('POST', '/api/sessions/spawn', spawn)).body;
  const id: string = spawned.sessionId;
  await runner.next('launch');
  runner.send({ type: 'started', sessionId: id, pid: 4242 });
  await until(server.call, `/api/sessions/${id}`, (s) => s?.run?.state === 'running');
  runner.send({ type: 'attention', sessionId: id, state: 'working' });
  await until(server.call, `/api/sessions/${id}`, (s) => s?.attention?.state === 'working');
  return { runner, id, token: spawned.envVars.MAESTRO_SESSION_TOKEN as string };
}

/** An MCP server's question: Claude Code reports it by hook, and no waiting prompt of the terminal's shows it. */
const elicitation = {
  event: 'Notification',
  payload: { message: 'MCP server "db" requests your input', notification_type: 'elicitation_dialog' },
};

describe("a hook's hold on attention", () => {
  it('survives a server restart: the terminal going quiet afterwards does not turn a waiting agent idle', async () => {
    const dataDir = tempDir();
    const first = await startTestServer({ DATA_DIR: dataDir });
    const { runner, id, token } = await runningAgent(first);
    const hooked = await first.call('POST', `/api/sessions/${id}/attention`, elicitation, { authorization: `Bearer ${token}` });
    expect(hooked.body.attention).toMatchObject({ state: 'needs_input', source: 'hook' });
    runner.ws.terminate();
    await first.close();

    const second = await startTestServer({ DATA_DIR: dataDir });
    const back = await fakeRunner(second.url, { name: 'fake' });
    back.hello([{ sessionId: id, state: 'running', pid: 4242 }]);
    await back.next('welcome');
    const listener = await second.listen();
    // The runner's terminal watch starts afresh after its restart: a quiet screen with no waiting prompt says idle.
    back.send({ type: 'attention', sessionId: id, state: 'idle' });
    // Then output: that one does release the hold, so its events are the fence that the idle was handled first.
    back.send({ type: 'attention', sessionId: id, state: 'working' });
    const events = await listener.waitFor(2);
    expect(events.map((e) => `${e.type} ${e.data.attention?.state}`)).toEqual(['session:updated working', 'session:attention working']);
    back.ws.close();
  });

  it.skipIf(!hasPostgres)('holds across two instances: a hook heard by B wins over the terminal of a runner on A', async () => {
    const url = await freshDatabaseUrl();
    const a = await startTestServer({ DATABASE_URL: url });
    const b = await startTestServer({ DATABASE_URL: url });
    const { runner, id, token } = await runningAgent(a);
    const hooked = await b.call('POST', `/api/sessions/${id}/attention`, elicitation, { authorization: `Bearer ${token}` });
    expect(hooked.body.attention).toMatchObject({ state: 'needs_input', source: 'hook' });
    await until(a.call, `/api/sessions/${id}`, (s) => s?.attention?.state === 'needs_input');
    const listener = await b.listen();
    runner.send({ type: 'attention', sessionId: id, state: 'idle' });
    runner.send({ type: 'attention', sessionId: id, state: 'working' });
    const events = await listener.waitFor(2, 10_000);
    expect(events.map((e) => `${e.type} ${e.data.attention?.state}`)).toEqual(['session:updated working', 'session:attention working']);
    expect((await b.call('GET', `/api/sessions/${id}`)).body.attention).toMatchObject({ state: 'working', source: 'terminal' });
    runner.ws.close();
  });

  it("a hook confirming the terminal's waiting takes the hold: the session is sent again, but no second notice", async () => {
    const server = await startTestServer();
    const { runner, id, token } = await runningAgent(server);
    const listener = await server.listen();
    runner.send({ type: 'attention', sessionId: id, state: 'needs_input', reason: 'Do you want to proceed?' });
    await listener.waitFor(2);
    await listener.drain();
    const hooked = await server.call('POST', `/api/sessions/${id}/attention`, elicitation, { authorization: `Bearer ${token}` });
    expect(hooked.body.attention).toMatchObject({ state: 'needs_input', source: 'hook', reason: 'Do you want to proceed?' });
    const events = await listener.drain();
    expect(events.map((e) => `${e.type} ${e.data.attention?.source}`)).toEqual(['session:updated hook']);
    // Held now: the terminal's quiet is ignored, its next output releases.
    runner.send({ type: 'attention', sessionId: id, state: 'idle' });
    runner.send({ type: 'attention', sessionId: id, state: 'working' });
    const after = await listener.waitFor(2);
    expect(after.map((e) => `${e.type} ${e.data.attention?.state}`)).toEqual(['session:updated working', 'session:attention working']);
    const session = (await server.call('GET', `/api/sessions/${id}`)).body;
    expect(session.timeline.filter((e: any) => e.type === 'needs_input')).toHaveLength(1);
    runner.ws.close();
  });
});

describe('what the CLI lists as waiting, against what the dashboard shows', () => {
  it('`maestro attention` leaves out a session that was stopped, or whose agent exited, while it waited', async () => {
    const server = await startTestServer();
    const { runner, id, token } = await runningAgent(server);
    const hook = () => server.call('POST', `/api/sessions/${id}/attention`, elicitation, { authorization: `Bearer ${token}` });
    expect((await hook()).body.attention.state).toBe('needs_input');
    const env = { MAESTRO_SERVER_URL: server.url };
    const cli = async (...args: string[]) => {
      let out = '';
      const code = await run(args, { env, stdout: (t) => (out += t), stderr: (t) => (out += t) });
      return { code, out };
    };
    expect((await cli('attention')).out).toContain(id);
    runner.send({ type: 'exited', sessionId: id, exitCode: 1, signal: null });
    await until(server.call, `/api/sessions/${id}`, (s) => s?.status === 'failed');
    // The stored attention keeps its last value (§21), as GET shows; the list of who waits for a person does not.
    expect((await server.call('GET', '/api/sessions?attention=needs_input')).body.map((s: any) => s.id)).toEqual([id]);
    expect(await cli('attention')).toEqual({ code: 0, out: 'No agent is waiting for you.\n' });
    expect(await cli('attention', '--all')).toEqual({ code: 0, out: 'No running agents.\n' });

    // Stopped by a person while it waited.
    const second = await runningAgent(server, runner);
    await server.call('POST', `/api/sessions/${second.id}/attention`, elicitation, { authorization: `Bearer ${second.token}` });
    expect((await cli('attention')).out).toContain(second.id);
    expect((await server.call('POST', `/api/sessions/${second.id}/stop`, {})).status).toBe(200);
    expect(await runner.next('stop')).toMatchObject({ sessionId: second.id });
    expect(await cli('attention')).toEqual({ code: 0, out: 'No agent is waiting for you.\n' });
    expect(await cli('attention', '--all')).toEqual({ code: 0, out: 'No running agents.\n' });
    runner.ws.close();
  });
});

describe("what counts as a person's input", () => {
  it('the terminal answering a focus change or a query in the live terminal is not an answer to a waiting agent', async () => {
    const server = await startTestServer();
    const { runner, id } = await runningAgent(server);
    runner.send({ type: 'attention', sessionId: id, state: 'needs_input', reason: 'Do you want to proceed?' });
    await until(server.call, `/api/sessions/${id}`, (s) => s?.attention?.state === 'needs_input');
    const viewer = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/sessions/${id}/terminal`);
    onFileEnd(() => viewer.terminate());
    await new Promise((resolve, reject) => viewer.once('open', resolve).once('error', reject));
    /** Sends `data` as the browser's terminal does, and waits until its signal (if any) is committed. */
    const typed = async (data: string) => {
      viewer.send(data);
      expect(await runner.next('keys')).toMatchObject({ sessionId: id, data });
      // The keys went out to the runner in the same turn as the attention signal was queued: this mutation follows it.
      await server.services.db.mutate(() => undefined);
      return (await server.call('GET', `/api/sessions/${id}`)).body.attention;
    };
    // What xterm.js sends by itself: focus in and out (an agent that asked for focus reports, as Codex does), a
    // cursor position report, device attributes, a colour query's answer. The agent gets them all the same.
    for (const report of ['\x1b[I', '\x1b[O', '\x1b[12;40R', '\x1b[?1;2c', '\x1b]11;rgb:0000/0000/0000\x1b\\'])
      expect(await typed(report)).toMatchObject({ state: 'needs_input', source: 'terminal' });
    // A key the person pressed is an answer.
    expect(await typed('1')).toMatchObject({ state: 'working', source: 'input' });
    viewer.close();
    runner.ws.close();
  });
});

describe('a wake-up notice and an agent that waits for a person (§24.8)', () => {
  it('is not typed into a question or permission menu on screen: it waits until the agent is idle', async () => {
    const server = await startTestServer();
    const { runner, id, token } = await runningAgent(server);
    // The runner answers what it is asked to type; what it was asked, in order.
    const asked: string[] = [];
    runner.ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type !== 'input' && m.type !== 'notice') return;
      asked.push(m.type);
      runner.send({ type: 'reply', id: m.id, ok: true });
    });
    const hook = (event: string, payload: object = {}) =>
      server.call('POST', `/api/sessions/${id}/attention`, { event, payload }, { authorization: `Bearer ${token}` });
    // Claude Code's permission menu is on screen: a key typed there (a digit of a session ID, Enter) would answer it.
    await hook('PermissionRequest', { tool_name: 'Bash' });
    const sent = await server.call('POST', `/api/sessions/${id}/messages`, { message: 'Rebase first', metadata: { priority: 'high' } });
    expect(sent.status).toBe(201);
    // The person answers; the agent works, then finishes its turn.
    expect((await server.call('POST', `/api/sessions/${id}/input`, { text: '1' })).status).toBe(200);
    await hook('Stop');
    expect(await runner.next('notice')).toMatchObject({ sessionId: id });
    // Typed after the person's answer, not into the menu before it.
    expect(asked).toEqual(['input', 'notice']);
    await until(server.call, `/api/messages/${sent.body.id}`, (m) => m?.status === 'delivered');
    runner.ws.close();
  });

  it('is typed while the agent waits after asking through `maestro report needs-input` (at its own prompt)', async () => {
    const server = await startTestServer();
    const { runner, id, token } = await runningAgent(server);
    runner.ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'notice') runner.send({ type: 'reply', id: m.id, ok: true });
    });
    const env = { MAESTRO_SERVER_URL: server.url, MAESTRO_SESSION_ID: id, MAESTRO_SESSION_TOKEN: token };
    expect(await run(['report', 'needs-input', 'Which', 'database?'], { env, stdout: () => {}, stderr: () => {} })).toBe(0);
    await server.call('POST', `/api/sessions/${id}/attention`, { event: 'Stop', payload: {} }, { authorization: `Bearer ${token}` });
    expect((await server.call('GET', `/api/sessions/${id}`)).body.attention).toMatchObject({ state: 'needs_input', source: 'report' });
    // The orchestrator's answer comes as a message: the notice tells the agent to read it.
    const sent = await server.call('POST', `/api/sessions/${id}/messages`, { message: 'PostgreSQL', metadata: { priority: 'high' } });
    expect(await runner.next('notice')).toMatchObject({ sessionId: id });
    await until(server.call, `/api/messages/${sent.body.id}`, (m) => m?.status === 'delivered');
    runner.ws.close();
  });
});
