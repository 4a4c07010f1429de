import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli, startTestServer, type TestServer, unusedLoopbackUrl } from './helpers.js';

const TOKEN = 'mcp-test-token';

/** `maestro mcp` as an agent's MCP client starts it: a child process on stdio, configured by environment variables. */
async function connect(server: { url: string }, env: Record<string, string> = { MAESTRO_TOKEN: TOKEN }) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI_BIN, 'mcp'],
    env: { PATH: process.env.PATH!, MAESTRO_API_URL: server.url, ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'maestro-test', version: '1.0.0' });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { text: string }[] };
    const text = result.content[0]!.text;
    return result.isError ? { error: text } : { data: JSON.parse(text) };
  };
  return { client, call };
}

describe('maestro mcp', () => {
  let server: TestServer;
  const clients: Client[] = [];
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    server = await startTestServer({ MAESTRO_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('lists every agent tool, each with a description and a JSON schema', async () => {
    const { client } = await connect(server);
    clients.push(client);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'message_inbox',
      'message_read',
      'message_send',
      'report_blocked',
      'report_needs_input',
      'report_progress',
      'session_diff',
      'session_merge',
      'spawn_worker',
      'task_claim',
      'task_complete',
      'task_create',
      'task_get',
      'task_list',
      'task_next',
      'task_release',
      'task_update',
      'whoami',
    ]);
    for (const tool of tools) {
      expect(tool.description!.length, tool.name).toBeGreaterThan(20);
      expect(tool.inputSchema.type).toBe('object');
    }
    const create = tools.find((t) => t.name === 'task_create')!;
    expect(create.inputSchema.required).toEqual(['title']);
    expect((create.inputSchema.properties as any).priority.enum).toEqual(['low', 'medium', 'high']);
  });

  it('manages tasks and spawns a worker as a person would, then reports as that worker', async () => {
    const project = await server.call('POST', '/api/projects', { name: 'MCP', workingDir: '/tmp' }, auth);
    const person = await connect(server);
    clients.push(person.client);

    expect((await person.call('whoami')).data).toMatchObject({
      server: server.url,
      sessionId: null,
      session: null,
      access: { actor: { kind: 'admin' }, role: 'admin' },
    });
    const created = await person.call('task_create', { projectId: project.body.id, title: 'Write the parser', priority: 'high' });
    const taskId = created.data.id;
    expect(created.data).toMatchObject({ title: 'Write the parser', priority: 'high', status: 'todo' });
    expect((await server.call('GET', `/api/tasks/${taskId}`, undefined, auth)).body.title).toBe('Write the parser');

    const updated = await person.call('task_update', { taskId, description: 'Handle comments too' });
    expect(updated.data.description).toBe('Handle comments too');
    expect((await person.call('task_list', { projectId: project.body.id })).data.map((t: any) => t.id)).toEqual([taskId]);
    expect((await person.call('task_get', { taskId })).data.id).toBe(taskId);
    expect((await person.call('task_get', { taskId: 'task_missing' })).error).toMatch(/^TASK_NOT_FOUND: Task not found/);
    expect((await person.call('report_progress', { message: 'hi' })).error).toMatch(/needs a Maestro session/);

    const spawned = await person.call('spawn_worker', { taskIds: [taskId], name: 'Parser worker' });
    expect(spawned.data).toMatchObject({ success: true, initialCommand: 'maestro worker init' });
    const sessionId = spawned.data.sessionId;

    // The worker's own MCP server, configured as its spawned terminal is.
    const worker = await connect(server, {
      MAESTRO_TOKEN: TOKEN,
      MAESTRO_SESSION_ID: sessionId,
      MAESTRO_TASK_IDS: taskId,
      MAESTRO_PROJECT_ID: project.body.id,
    });
    clients.push(worker.client);
    const me = (await worker.call('whoami')).data;
    expect(me).toMatchObject({ sessionId, projectId: project.body.id, taskIds: [taskId] });
    // It holds the admin token and names its session: its changes are the session's, with the admin's rights.
    expect(me.access).toMatchObject({ actor: { kind: 'session', id: sessionId, name: 'Parser worker' }, role: 'admin' });
    expect(me.session.name).toBe('Parser worker');

    expect((await worker.call('report_progress', { message: 'Lexer done' })).data).toMatchObject({
      type: 'progress',
      message: 'Lexer done',
      taskId,
    });
    expect((await worker.call('report_needs_input', { question: 'Tabs or spaces?' })).data.sessionStatus).toBe('needs_input');
    expect((await worker.call('report_blocked', { reason: 'No grammar' })).data.sessionStatus).toBe('blocked');
    const done = await worker.call('task_complete', { summary: 'Parser written' });
    expect(done.data).toMatchObject({ id: taskId, sessionStatus: 'completed', status: 'todo' });

    const session = (await server.call('GET', `/api/sessions/${sessionId}`, undefined, auth)).body;
    const entries = session.timeline.map((e: any) => `${e.type} ${e.message}`);
    expect(entries).toEqual(
      expect.arrayContaining([
        'progress Lexer done',
        'needs_input Tabs or spaces?',
        'task_blocked Blocked: No grammar',
        'task_completed Completed: Parser written',
      ]),
    );
  });

  it('completes the task it claimed, as `maestro task complete` does, which unblocks the task waiting for it', async () => {
    const project = (await server.call('POST', '/api/projects', { name: 'Claims', workingDir: '/tmp' }, auth)).body;
    const newTask = async (body: object) => (await server.call('POST', '/api/tasks', { projectId: project.id, ...body }, auth)).body;
    const first = await newTask({ title: 'Schema', priority: 'high' });
    const second = await newTask({ title: 'Migration', dependencies: [first.id] });
    const spawned = (await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [first.id] }, auth)).body;
    // Exactly the environment its terminal got: the session token, never the admin token.
    const agent = await connect(server, spawned.envVars);
    clients.push(agent.client);

    expect((await agent.call('task_claim', { taskId: first.id })).data).toMatchObject({ status: 'in_progress' });
    const done = await agent.call('task_complete', { summary: 'Schema written' });
    expect(done.data).toMatchObject({ id: first.id, status: 'completed', sessionStatus: 'completed' });
    expect((await server.call('GET', `/api/tasks/${second.id}`, undefined, auth)).body).toMatchObject({ blockedBy: [], ready: true });
    expect((await agent.call('task_next')).data.task.id).toBe(second.id);
  });

  it('hands a task over: releases its claim and asks the next agent, with a deadline, to take it', async () => {
    const project = (await server.call('POST', '/api/projects', { name: 'Handover', workingDir: '/tmp' }, auth)).body;
    const newTask = async (title: string) => (await server.call('POST', '/api/tasks', { projectId: project.id, title }, auth)).body;
    const [hard, easy] = [await newTask('Hard'), await newTask('Easy')];
    const spawn = async (taskId: string) =>
      (await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [taskId] }, auth)).body;
    const [first, second] = [await spawn(hard.id), await spawn(easy.id)];
    const a = await connect(server, first.envVars);
    const b = await connect(server, second.envVars);
    clients.push(a.client, b.client);

    await a.call('task_claim', { taskId: hard.id });
    expect((await b.call('task_claim', { taskId: hard.id })).error).toMatch(/^TASK_CLAIMED: /);
    const released = await a.call('task_release', { taskId: hard.id });
    expect(released.data).toMatchObject({ id: hard.id, status: 'todo', ready: true });
    expect(released.data.claim).toBeUndefined();
    const sent = await a.call('message_send', { to: second.sessionId, message: `Please take ${hard.id}`, expiresInMs: 600_000 });
    expect(sent.data.expiresAt).toBe(sent.data.createdAt + 600_000);

    const [note] = (await b.call('message_inbox')).data;
    expect(note).toMatchObject({ id: sent.data.id, status: 'delivered', expiresAt: sent.data.expiresAt });
    // Once acknowledged it is no longer in the inbox (as `maestro inbox` lists it); the sender sees it read.
    await b.call('message_read', { messageId: note.id });
    expect((await b.call('message_inbox')).data).toEqual([]);
    expect((await b.call('message_inbox', { status: 'read' })).data.map((m: any) => m.id)).toEqual([note.id]);
    expect((await a.call('message_inbox', { sent: true })).data.map((m: any) => [m.id, m.status])).toEqual([[note.id, 'read']]);
    expect((await b.call('task_claim', { taskId: hard.id })).data.claim.sessionId).toBe(second.sessionId);
    expect((await b.call('task_release', { taskId: easy.id })).data.id).toBe(easy.id);
    expect((await a.call('task_release', { taskId: hard.id })).error).toMatch(/^FORBIDDEN: /);
  });

  it('spawns a worker on the runner and with the agent preset it names, as `maestro session spawn` does', async () => {
    const project = (await server.call('POST', '/api/projects', { name: 'Spawner', workingDir: '/tmp' }, auth)).body;
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Split me' }, auth)).body;
    const lead = (await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id] }, auth)).body;
    const agent = await connect(server, lead.envVars);
    clients.push(agent.client);
    // The server answers for the runner it was asked for (it reached it), and nothing was spawned elsewhere instead.
    expect((await agent.call('spawn_worker', { taskIds: [task.id], host: 'no-such-runner' })).error).toMatch(/^HOST_NOT_FOUND: /);
    const sessions = (await server.call('GET', `/api/sessions?projectId=${project.id}`, undefined, auth)).body;
    expect(sessions.map((s: any) => s.id)).toEqual([lead.sessionId]);
    const { tools } = await agent.client.listTools();
    const spawn = tools.find((t) => t.name === 'spawn_worker')!;
    expect((spawn.inputSchema.properties as any).agent.enum).toEqual(['claude', 'codex', 'gemini', 'shell', 'custom']);
  });

  it("reports on a queue session's task in progress when no taskId is given, as the CLI does", async () => {
    const project = (await server.call('POST', '/api/projects', { name: 'Queue', workingDir: '/tmp' }, auth)).body;
    const newTask = async (title: string) => (await server.call('POST', '/api/tasks', { projectId: project.id, title }, auth)).body;
    const [one, two] = [await newTask('One'), await newTask('Two')];
    const spawned = (
      await server.call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [one.id, two.id], strategy: 'queue' }, auth)
    ).body;
    const queue = `/api/sessions/${spawned.sessionId}/queue`;
    for (const step of ['start', 'complete', 'start']) await server.call('POST', `${queue}/${step}`, {}, auth);
    const agent = await connect(server, spawned.envVars);
    clients.push(agent.client);

    expect((await agent.call('task_get')).data.id).toBe(two.id);
    expect((await agent.call('report_progress', { message: 'Halfway' })).data.taskId).toBe(two.id);
    expect((await agent.call('report_blocked', { reason: 'No access' })).data).toMatchObject({ id: two.id, sessionStatus: 'blocked' });
    expect((await server.call('GET', `/api/tasks/${one.id}`, undefined, auth)).body.sessionStatus).not.toBe('blocked');
  });

  it("refuses a server URL that is not one with the CLI's one-line error and exit 1, not a stack trace", async () => {
    const r = await runCli(['mcp'], { PATH: process.env.PATH!, MAESTRO_API_URL: 'not a url' });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/^maestro: Invalid server URL "not a url" \(from MAESTRO_API_URL\)/),
    });
  });

  it('whoami fails when the server is down or refuses the token, instead of answering as if all were well', async () => {
    const wrong = await connect(server, { MAESTRO_TOKEN: 'not-the-token' });
    clients.push(wrong.client);
    expect((await wrong.call('whoami')).error).toMatch(/^UNAUTHORIZED: Missing or invalid bearer token: check MAESTRO_TOKEN/);

    const dead = await unusedLoopbackUrl();
    const away = await connect({ url: dead });
    clients.push(away.client);
    expect((await away.call('whoami')).error).toMatch(
      new RegExp(`^SERVER_UNREACHABLE: Cannot reach Maestro Server at ${dead} \\(ECONNREFUSED\\)`),
    );
  });

  it('identifies the session with X-Session-ID and its session token when there is no admin token', async () => {
    const seen: { url?: string; headers: IncomingHttpHeaders }[] = [];
    const recorder = createServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.setHeader('content-type', 'application/json');
      res.end('{"id":"sess_me"}');
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
      const agent = await connect({ url }, { MAESTRO_SESSION_ID: 'sess_me', MAESTRO_SESSION_TOKEN: 'session-secret' });
      clients.push(agent.client);
      await agent.call('whoami');
      // whoami also asks GET /api/me (§23) with the same headers.
      expect(seen.map((s) => s.url)).toEqual(['/api/sessions/sess_me', '/api/me']);
      expect(seen[0]).toMatchObject({
        url: '/api/sessions/sess_me',
        headers: { 'x-session-id': 'sess_me', authorization: 'Bearer session-secret' },
      });
    } finally {
      recorder.closeAllConnections();
      recorder.close();
    }
  });
});
