// A runner's name (§15.1): `.` and `..` match the name pattern but can be no host's file. Such a hello is refused at
// once with a reason, instead of failing inside the server and leaving the runner waiting for a welcome that never
// comes while the server counts the name as connected.
import { expect, it } from 'vitest';
import { BAD_NAME } from '../lib/runner-protocol.js';
import { fakeRunner } from './fake-runner.js';
import { startTestServer } from './helpers.js';

it('a hello as "." or ".." is refused with a close code and a reason; nothing is recorded and a good name still connects', async () => {
  const server = await startTestServer();
  for (const name of ['.', '..']) {
    const runner = await fakeRunner(server.url, { name });
    const closed = new Promise<[number, string]>((resolve) => runner.ws.once('close', (code, reason) => resolve([code, String(reason)])));
    runner.hello();
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000).unref());
    expect(await Promise.race([closed, timeout])).toEqual([BAD_NAME, `"${name}" cannot be a host name`]);
    expect(runner.frames).toEqual([]);
  }
  expect((await server.call('GET', '/api/hosts')).body).toEqual([]);

  const good = await fakeRunner(server.url, { name: 'fleet' });
  good.hello();
  expect(await good.next('welcome')).toEqual({ type: 'welcome', name: 'fleet' });
  expect((await server.call('GET', '/api/hosts/fleet')).body).toMatchObject({ name: 'fleet', status: 'online' });
});
