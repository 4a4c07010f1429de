import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

/* Limits on every byte (issue 21 items 12, 13): what one request can make the server write and send. */

describe('entity files are compact (item 12)', async () => {
  const server = await startTestServer();
  const project = (await server.call('POST', '/api/projects', { name: 'Sizes', workingDir: '/tmp' })).body;

  it('the largest file a 1 MiB request can produce stays about the size of the request', async () => {
    // The worst case for pretty-printing: deep nesting (the most indentation per line) around many tiny values.
    const depth = 60;
    const inner = `[${new Array(450_000).fill('0').join(',')}]`;
    const metadata = `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
    const body = `{"projectId":"${project.id}","taskIds":[],"metadata":${metadata}}`;
    expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024);
    const res = await server.call('POST', '/api/sessions', body);
    expect(res.status).toBe(201);
    const file = statSync(join(server.config.dataDir, 'sessions', `${res.body.id}.json`)).size;
    expect(file).toBeLessThan(2 * Buffer.byteLength(body));
  });
});

describe('an SSE reader that never reads (item 15, §24.4)', () => {
  it('is cut off once more than 8 MiB wait for it, while a WebSocket reader gets every event', async () => {
    const { connect } = await import('node:net');
    const server = await startTestServer();
    const reader = await server.listen();
    const stalled = connect(server.port, '127.0.0.1');
    const closed = new Promise<void>((r) => stalled.once('close', () => r()));
    stalled.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      stalled.write('GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
      stalled.once('data', (head) => (String(head).startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(String(head)))));
    });
    stalled.pause(); // from here on it reads nothing
    expect((await server.call('GET', '/ws-status')).body.connectedClients).toBe(2);

    const project = (await server.call('POST', '/api/projects', { name: 'Big' })).body;
    const task = (await server.call('POST', '/api/tasks', { projectId: project.id, title: 'Big' })).body;
    reader.clear();
    for (let i = 0; i < 45; i++) {
      const res = await server.call('PATCH', `/api/tasks/${task.id}`, { description: `${i}`.padEnd(900_000, 'x') });
      expect(res.status).toBe(200);
    }
    expect((await server.call('GET', '/ws-status')).body.connectedClients).toBe(1);
    stalled.resume();
    await closed;
    expect((await reader.drain()).length).toBe(45);
  });
});
