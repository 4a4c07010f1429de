// A runner's answers (§15.4): one that breaks the runner protocol fails its request at once, with the reason, instead
// of leaving the caller to wait out the timeout as if the runner had gone silent.
import { expect, it } from 'vitest';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, tempDir, until } from './helpers.js';

it('a reply that does not follow the protocol fails its request now (500, named), and a good one after it still works', async () => {
  const server = await startTestServer();
  const runner = await fakeRunner(server.url);
  runner.hello();
  await runner.next('welcome');
  const project = (await server.call('POST', '/api/projects', { name: 'Replies', workingDir: tempDir() })).body;
  const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Work' })).body;
  const spawned = await server.call('POST', '/api/sessions/spawn', {
    projectId: project.id,
    taskIds: [task.id],
    host: 'fleet',
    agent: 'claude',
  });
  expect(spawned.status).toBe(201);
  const launch = await runner.next('launch');
  runner.send({ type: 'started', sessionId: launch.sessionId, pid: 7 });
  const session = `/api/sessions/${spawned.body.sessionId}`;
  await until(server.call, session, (s) => s?.run?.state === 'running');
  const terminal = `${session}/terminal`;

  // A terminal size that is not a number (what a torn-down tmux pane used to give).
  const bad = server.call('GET', terminal);
  const asked = await runner.next('snapshot');
  runner.ws.send(JSON.stringify({ type: 'reply', id: asked.id, ok: true, text: 'x', cols: null, rows: null, alive: true }));
  const answer = await bad;
  expect(answer.status).toBe(500);
  expect(answer.body).toMatchObject({
    code: 'INTERNAL_ERROR',
    message: 'Host fleet sent an answer that does not follow the runner protocol',
  });

  const good = server.call('GET', terminal);
  const again = await runner.next('snapshot');
  runner.send({ type: 'reply', id: again.id, ok: true, text: 'READY', cols: 80, rows: 24, alive: true });
  expect((await good).body).toMatchObject({ text: 'READY', cols: 80, rows: 24, alive: true });
});
