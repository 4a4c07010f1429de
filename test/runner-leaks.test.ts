import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_LOG_BYTES } from '../lib/runner/terminal-stream.js';
import { startTestServer, tempDir, until } from './helpers.js';
import { online, SLOW, startRunner } from './runner-harness.js';

/* A runner that runs for weeks: what its agents print must not pile up on its disk. */

describe("an agent's output log on the runner's machine", SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const tmp = tempDir();
  const runner = startRunner(server.url, 'logs', { TMPDIR: tmp });
  await online(call, 'logs');
  const workingDir = join(tempDir(), 'work');
  mkdirSync(workingDir);
  const project = (await call('POST', '/api/projects', { name: 'Logs', workingDir })).body;
  const logOf = (id: string) => join(tmp, `maestro-runner-${process.getuid!()}`, runner.socket, `${id}.log`);
  const spawnFlood = async () => {
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'MODE:flood' })).body;
    const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], host: 'logs', agent: 'custom' });
    const id = res.body.sessionId as string;
    await until(call, `/api/sessions/${id}/terminal`, (t) => t?.text?.includes('READY'));
    return id;
  };
  // About 3 MiB of output: three times what a log may hold.
  const LINES = 3000;
  /** Waits (bounded) for the log to be back under its limit, and says how large it is. */
  const logSize = async (id: string) => {
    const deadline = Date.now() + 10_000;
    while (statSync(logOf(id)).size > MAX_LOG_BYTES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return statSync(logOf(id)).size;
  };

  it('is emptied once it passes its limit when nobody watches the terminal', async () => {
    const id = await spawnFlood();
    expect((await call('POST', `/api/sessions/${id}/input`, { text: `FLOOD ${LINES}` })).status).toBe(200);
    await until(call, `/api/sessions/${id}/terminal`, (t) => t?.text?.includes(`FLOODED ${LINES}`));
    expect(await logSize(id)).toBeLessThanOrEqual(MAX_LOG_BYTES);
    // The agent goes on as before: its next output reaches the log and the terminal.
    expect((await call('POST', `/api/sessions/${id}/input`, { text: 'after the cut' })).status).toBe(200);
    await until(call, `/api/sessions/${id}/terminal`, (t) => t?.text?.includes('ECHO:after the cut'));
    await call('POST', `/api/sessions/${id}/stop`, {});
  });

  it('is emptied as it is streamed to a live viewer, who still gets all of it', async () => {
    const id = await spawnFlood();
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/sessions/${id}/terminal`);
    let received = '';
    ws.on('message', (data) => (received += String(data)));
    await new Promise((r) => ws.once('open', r));
    const seen = async (text: string) => {
      const deadline = Date.now() + 30_000;
      while (!received.includes(text)) {
        if (Date.now() > deadline) throw new Error(`the viewer never got ${text}; got ${received.length} bytes`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await seen('READY');
    expect((await call('POST', `/api/sessions/${id}/input`, { text: `FLOOD ${LINES}` })).status).toBe(200);
    await seen(`FLOODED ${LINES}`);
    expect(await logSize(id)).toBeLessThanOrEqual(MAX_LOG_BYTES);
    // Output after the cut streams on, and the viewer got every line.
    expect((await call('POST', `/api/sessions/${id}/input`, { text: 'after the cut' })).status).toBe(200);
    await seen('ECHO:after the cut');
    const lines = new Set(received.match(/\d{6}\.{20}/g)?.map((line) => line.slice(0, 6)));
    expect(lines.size).toBe(LINES);
    ws.close();
    await call('POST', `/api/sessions/${id}/stop`, {});
  });
});
