import { describe, expect, it } from 'vitest';
import { fakeRunner } from './fake-runner.js';
import { startTestServer, tempDir, until } from './helpers.js';

/* A server that runs for weeks, agents coming and going: what it keeps per agent goes when the agent does. */

describe('agents coming and going on a runner', async () => {
  const server = await startTestServer();
  const { call } = server;
  const runner = await fakeRunner(server.url, { name: 'churn' });
  runner.hello();
  await runner.next('welcome');
  const project = (await call('POST', '/api/projects', { name: 'Churn', workingDir: tempDir() })).body;

  it('keep no launch token for a spawn whose host never came, once its session ended', async () => {
    const { hosts } = server.services;
    // A host that was here once (a laptop now closed).
    const away = await fakeRunner(server.url, { name: 'away' });
    away.hello();
    await away.next('welcome');
    away.ws.close();
    await until(call, '/api/hosts/away', (h) => h?.status === 'offline');
    const before = hosts.waitingLaunches();
    for (let i = 0; i < 20; i++) {
      const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'Later' })).body;
      const spawned = await call('POST', '/api/sessions/spawn', {
        projectId: project.id,
        taskIds: [task.id],
        host: 'away',
        agent: 'claude',
      });
      expect(spawned.body.message).toBe('Waiting for host away to connect');
      expect(hosts.waitingLaunches()).toBe(before + 1);
      // `maestro session complete`, or a person marking it failed: the launch will never happen.
      const ended = await call('PATCH', `/api/sessions/${spawned.body.sessionId}`, { status: i % 2 ? 'completed' : 'failed' });
      expect(ended.status).toBe(200);
      expect(hosts.waitingLaunches()).toBe(before);
    }
  });
});
