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
