import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { floodEvents, startTestServer } from './helpers.js';

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

    await floodEvents(server.call, () => reader.clear());

    expect((await server.call('GET', '/ws-status')).body.connectedClients).toBe(1);
    const events = await reader.drain();
    expect(events.map((e) => e.type)).toEqual(Array(45).fill('task:updated'));
    expect(events.map((e) => e.data.description.slice(0, 2).replace('x', ''))).toEqual([...Array(45).keys()].map(String));
  });
});
