import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

/**
 * A client that stops reading (a frozen tab, a stuck process) must not make the server hold every later event for
 * it in memory: once more than 8 MiB wait for it, it is cut off, and everyone else still hears everything.
 */
describe('a WebSocket client that never reads', () => {
  const sockets: Socket[] = [];
  afterAll(() => sockets.forEach((s) => s.destroy()));

  it('is dropped once too much waits for it, while other clients get every event', async () => {
    const server = await startTestServer();
    const reader = await server.listen();
    const stalled = connect(server.port, '127.0.0.1');
    sockets.push(stalled);
    await new Promise<void>((resolve, reject) => {
      stalled.once('error', reject);
      stalled.write(
        'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      stalled.once('data', (head) => (String(head).startsWith('HTTP/1.1 101') ? resolve() : reject(new Error(String(head)))));
    });
    stalled.pause(); // from here on it reads nothing
    expect((await server.call('GET', '/ws-status')).body.connectedClients).toBe(2);

    const project = (await server.call('POST', '/api/projects', { name: 'Big' })).body;
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Big' })).body;
    reader.clear();
    // About 40 MiB of task:updated events, far more than the kernel's socket buffers hold.
    for (let i = 0; i < 45; i++) {
      const res = await server.call('PATCH', `/api/tasks/${task.id}`, { description: `${i}`.padEnd(900_000, 'x') });
      expect(res.status).toBe(200);
    }

    expect((await server.call('GET', '/ws-status')).body.connectedClients).toBe(1);
    const events = await reader.drain();
    expect(events.map((e) => e.type)).toEqual(Array(45).fill('task:updated'));
    expect(events.map((e) => e.data.description.slice(0, 2).replace('x', ''))).toEqual([...Array(45).keys()].map(String));
  });
});
