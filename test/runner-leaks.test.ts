import { mkdirSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Runner } from '../lib/runner/index.js';
import { MAX_LOG_BYTES } from '../lib/runner/terminal-stream.js';
import { onFileEnd, startTestServer, tempDir, until } from './helpers.js';
import { FAKE_AGENT, killTmuxServer, online, SLOW, startRunner, tmuxOut } from './runner-harness.js';

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

/** A TCP relay to `port` on loopback that can cut its connections and refuse new ones: a network that drops. */
async function relayTo(port: number) {
  const sockets = new Set<Socket>();
  let refusing = false;
  let refused = 0;
  const waiters = new Set<() => void>();
  const relay = createServer((client) => {
    client.on('error', () => {});
    if (refusing) {
      refused++;
      waiters.forEach((w) => w());
      return void client.destroy();
    }
    const upstream = connect(port, '127.0.0.1');
    upstream.on('error', () => {});
    client.pipe(upstream).pipe(client);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  onFileEnd(() => new Promise((resolve) => relay.close(resolve)));
  return {
    url: `http://127.0.0.1:${(relay.address() as { port: number }).port}`,
    cut() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
    },
    resume: () => void (refusing = false),
    /** Resolves once one more connection than now was refused (bounded). */
    nextRefusal: () =>
      new Promise<void>((resolve, reject) => {
        const target = refused + 1;
        const timer = setTimeout(() => reject(new Error('no reconnection attempt within 20 s')), 20_000);
        const check = () => {
          if (refused < target) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        waiters.add(check);
      }),
  };
}

describe('terminal streams across a dropped runner connection', SLOW, async () => {
  const server = await startTestServer();
  const { call } = server;
  const relay = await relayTo(server.port);
  const socket = `mb${process.pid}-cut`;
  process.env.MAESTRO_AGENT_COMMAND = `${process.execPath} ${FAKE_AGENT} {promptFile}`;
  const runner = new Runner({ serverUrl: relay.url, name: 'cut', tmuxSocket: socket, version: 'test' });
  onFileEnd(async () => {
    await runner.stop();
    await killTmuxServer(socket);
    rmSync(join(tmpdir(), `maestro-runner-${process.getuid!()}`, socket), { recursive: true, force: true });
  });
  runner.start();
  await online(call, 'cut');
  const workingDir = join(tempDir(), 'work');
  mkdirSync(workingDir);
  const project = (await call('POST', '/api/projects', { name: 'Cut', workingDir })).body;
  const spawnEcho = async () => {
    const task = (await call('POST', '/api/tasks', { projectId: project.id, title: 'MODE:echo' })).body;
    const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], host: 'cut', agent: 'custom' });
    await until(call, `/api/sessions/${res.body.sessionId}/terminal`, (t) => t?.text?.includes('READY'));
    return res.body.sessionId as string;
  };
  const view = async (id: string) => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/sessions/${id}/terminal`);
    let received = '';
    ws.on('message', (data) => (received += String(data)));
    await new Promise((r) => ws.once('open', r));
    const seen = async (text: string) => {
      const deadline = Date.now() + 20_000;
      while (!received.includes(text)) {
        if (Date.now() > deadline) throw new Error(`the viewer never got ${text}; got ${JSON.stringify(received.slice(-500))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await seen('READY');
    return { ws, seen };
  };

  it('a terminal whose viewer left while the runner was away is no longer streamed; one still watched is', async () => {
    const [left, kept] = [await spawnEcho(), await spawnEcho()];
    const [leaving, staying] = [await view(left), await view(kept)];
    expect(runner.agents.streams.streamed().sort()).toEqual([left, kept].sort());

    relay.cut();
    await until(call, '/api/hosts/cut', (h) => h?.status === 'offline');
    // The viewer leaves while the runner cannot be told; the server has heard it by the runner's next attempt.
    const closed = new Promise((r) => leaving.ws.once('close', r));
    leaving.ws.close();
    await closed;
    await relay.nextRefusal();
    relay.resume();
    await online(call, 'cut');

    const deadline = Date.now() + 10_000;
    while (runner.agents.streams.streamed().join() !== kept && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(runner.agents.streams.streamed()).toEqual([kept]);
    expect((await call('POST', `/api/sessions/${kept}/input`, { text: 'after the drop' })).status).toBe(200);
    await staying.seen('ECHO:after the drop');
    staying.ws.close();
    for (const id of [left, kept]) await call('POST', `/api/sessions/${id}/stop`, {});
  });

  it('a viewer that stayed through the drop gets a fresh screen: what the agent printed meanwhile is on it', async () => {
    const id = await spawnEcho();
    const viewer = await view(id);
    relay.cut();
    await until(call, '/api/hosts/cut', (h) => h?.status === 'offline');
    // Typed in tmux itself while no runner is connected: the agent prints, and nobody streams it.
    tmuxOut(socket, ['send-keys', '-t', `maestro-${id}`, '-l', 'while away']);
    tmuxOut(socket, ['send-keys', '-t', `maestro-${id}`, 'Enter']);
    await expect
      .poll(() => tmuxOut(socket, ['capture-pane', '-p', '-t', `maestro-${id}`]), { timeout: 20_000 })
      .toContain('ECHO:while away');
    relay.resume();
    await online(call, 'cut');
    await viewer.seen('ECHO:while away');
    viewer.ws.close();
    await call('POST', `/api/sessions/${id}/stop`, {});
  });
});
