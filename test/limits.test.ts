import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Call, floodEvents, inProcess, onDatabase, startTestServer } from './helpers.js';

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

/** Every page of `GET /api/sessions/:id/timeline`, newest first. */
async function wholeTimeline(call: Call, sessionId: string): Promise<any[]> {
  const entries: any[] = [];
  let before: string | null = null;
  do {
    const res = await call('GET', `/api/sessions/${sessionId}/timeline?limit=500${before ? `&before=${before}` : ''}`);
    expect(res.status).toBe(200);
    entries.push(...res.body.entries);
    before = res.body.next;
  } while (before);
  return entries;
}

describe('bounded sessions (item 13, §24.9)', () => {
  it('600 timeline posts: the session holds the newest 100, the route pages all of them, the log grows linearly', async () => {
    const app = await inProcess();
    const project = (await app.call('POST', '/api/projects', { name: 'Long', workingDir: '/tmp' })).body;
    const session = (await app.call('POST', '/api/sessions', { projectId: project.id, taskIds: [] })).body;
    const logBytes = () => {
      const dir = join(app.config.dataDir, 'events');
      return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    };
    const sizes: number[] = [];
    for (let i = 1; i <= 600; i++) {
      const res = await app.call('POST', `/api/sessions/${session.id}/timeline`, {
        type: 'progress',
        message: `step ${i} `.padEnd(200, '.'),
      });
      expect(res.status).toBe(200);
      if (i % 200 === 0 && !onDatabase()) sizes.push(logBytes());
    }
    const stored = (await app.call('GET', `/api/sessions/${session.id}`)).body;
    expect(stored.timeline).toHaveLength(100);
    expect(stored.timeline.at(-1).message).toMatch(/^step 600 /);

    const pages = await wholeTimeline(app.call, session.id);
    expect(pages).toHaveLength(601); // 600 posts and the session_started entry
    expect(pages[0].message).toMatch(/^step 600 /);
    expect(pages.at(-2).message).toMatch(/^step 1 /);
    expect(pages.at(-1).type).toBe('session_started');
    expect(new Set(pages.map((e) => e.id)).size).toBe(601);
    const first = (await app.call('GET', `/api/sessions/${session.id}/timeline`)).body;
    expect(first.entries).toHaveLength(100);
    expect(first.entries.map((e: any) => e.id)).toEqual(stored.timeline.map((e: any) => e.id).reverse());
    expect((await app.call('GET', `/api/sessions/${session.id}/timeline?before=evt_nope`)).status).toBe(400);
    expect((await app.call('GET', `/api/sessions/${session.id}/timeline?limit=501`)).status).toBe(400);

    if (!onDatabase()) {
      // Each append logs the session once: a bounded session makes that a bounded number of bytes, so the later 200
      // posts cost what the earlier ones did (an unbounded session made the last 200 cost about 1.7 times the middle 200).
      const [, middle, last] = [sizes[0]!, sizes[1]! - sizes[0]!, sizes[2]! - sizes[1]!];
      expect(last / 200).toBeLessThan(64 * 1024);
      expect(last).toBeLessThan(middle * 1.1);
    }
    await app.close();
    // After a restart (the history read back from storage, in whatever order it lists) the pages are the same.
    const again = await inProcess({ DATA_DIR: app.config.dataDir });
    expect((await wholeTimeline(again.call, session.id)).map((e) => e.id)).toEqual(pages.map((e) => e.id));
    await again.close();
  }, 120_000);

  it('deleting a session removes its history', async () => {
    const app = await inProcess();
    const project = (await app.call('POST', '/api/projects', { name: 'Gone', workingDir: '/tmp' })).body;
    const session = (await app.call('POST', '/api/sessions', { projectId: project.id, taskIds: [] })).body;
    for (let i = 0; i < 120; i++) await app.call('POST', `/api/sessions/${session.id}/events`, { type: 'x', data: i });
    for (let i = 0; i < 120; i++) await app.call('POST', `/api/sessions/${session.id}/timeline`, { type: 'progress', message: `${i}` });
    const stored = (await app.call('GET', `/api/sessions/${session.id}`)).body;
    expect(stored.events).toHaveLength(100);
    expect(stored.events.at(-1).data).toBe(119);
    expect(app.services.db.count('history')).toBe(21);
    expect((await app.call('DELETE', `/api/sessions/${session.id}`)).status).toBe(200);
    expect(app.services.db.count('history')).toBe(0);
    expect((await app.call('GET', `/api/sessions/${session.id}/timeline`)).status).toBe(404);
    await app.close();
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

    await floodEvents(server.call, () => reader.clear());
    expect((await server.call('GET', '/ws-status')).body.connectedClients).toBe(1);
    stalled.resume();
    await closed;
    expect((await reader.drain()).length).toBe(45);
  });
});
