// Attention (contract §21): hook call → `session:attention` at a WebSocket client, as `maestro hook` (a process per
// call, as agents run it) and as the bare HTTP request it sends; the floor is a WebSocket ping's round trip. Then how
// long a `maestro hook` process lives (start to exit, reporting to the server) against `node -e 0`, and the runner's
// side (bench/lib/attention-runner.mjs): quiet terminal → idle, and the runner's CPU with 200 agents printing.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { measureRunner } from '../lib/attention-runner.mjs';
import { call, median, memoryDir, quantile, startMaestro, wallMs } from '../lib/harness.mjs';

export const name = 'attention';

const open = (url) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
const next = (ws, match) =>
  new Promise((resolve) => {
    const on = (data) => {
      const m = JSON.parse(String(data));
      if (!match(m)) return;
      ws.off('message', on);
      resolve(m);
    };
    ws.on('message', on);
  });

export async function run({ root, quick }) {
  const dir = memoryDir('maestro-bench-attention-');
  let maestro;
  try {
    maestro = await startMaestro(root, dir, { MAESTRO_LOCAL_RUNNER: '0' });
    const ws = maestro.url.replace(/^http/, 'ws');
    // A runner played over the protocol: it launches nothing, it only says the agent started.
    const runner = await open(`${ws}/api/hosts/connect`);
    runner.send(
      JSON.stringify({
        type: 'hello',
        name: 'bench',
        hostname: 'bench',
        platform: 'linux',
        arch: 'x64',
        version: '1',
        agents: ['claude'],
        sessions: [],
      }),
    );
    await next(runner, (m) => m.type === 'welcome');
    const project = await call(maestro.url, 'POST', '/api/projects', { name: 'bench', workingDir: dir });
    const task = await call(maestro.url, 'POST', '/api/tasks', { projectId: project.id, title: 'bench' });
    const launched = next(runner, (m) => m.type === 'launch');
    const spawned = await call(maestro.url, 'POST', '/api/sessions/spawn', {
      projectId: project.id,
      taskIds: [task.id],
      host: 'bench',
      agent: 'claude',
    });
    const id = spawned.sessionId;
    const token = spawned.envVars.MAESTRO_SESSION_TOKEN;
    await launched;
    const client = await open(`${ws}/ws`);
    const started = next(client, (m) => m.type === 'session:updated' && m.data.run?.state === 'running');
    runner.send(JSON.stringify({ type: 'started', sessionId: id, pid: 1 }));
    await started;

    const calls = quick ? 40 : 200;
    const events = ['PermissionRequest', 'Stop'];
    const measure = async (fire) => {
      const ms = [];
      for (let i = 0; i < calls; i++) {
        const seen = next(client, (m) => m.type === 'session:attention');
        const t0 = wallMs();
        await fire(events[i % 2]);
        await seen;
        ms.push(wallMs() - t0);
      }
      return ms.sort((a, b) => a - b);
    };
    const env = { ...process.env, MAESTRO_SERVER_URL: maestro.url, MAESTRO_SESSION_ID: id, MAESTRO_SESSION_TOKEN: token };
    const viaCli = await measure(
      (event) =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, [join(root, 'dist/lib/cli/main.js'), 'hook', event], {
            env,
            stdio: ['pipe', 'ignore', 'ignore'],
          });
          child.stdin.end('{"tool_name":"Bash"}');
          // The event may arrive before the process has exited: the measure ends at the event either way.
          child.once('spawn', resolve);
        }),
    );
    const viaHttp = await measure((event) =>
      fetch(`${maestro.url}/api/sessions/${id}/attention`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ event, payload: { tool_name: 'Bash' } }),
      }).then((r) => r.arrayBuffer()),
    );
    const pings = [];
    for (let i = 0; i < calls; i++) {
      const pong = next(client, (m) => m.type === 'pong');
      const t0 = wallMs();
      client.send('{"type":"ping"}');
      await pong;
      pings.push(wallMs() - t0);
    }
    pings.sort((a, b) => a - b);
    // A hook process's whole life, as the agent waits for it: spawn → exit, against a bare node's.
    const lifetime = async (args, childEnv) => {
      const ms = [];
      for (let i = 0; i < (quick ? 20 : 50); i++) {
        const t0 = wallMs();
        await new Promise((resolve) => {
          const child = spawn(process.execPath, args, { env: childEnv, stdio: ['pipe', 'ignore', 'ignore'] });
          child.stdin.end('{"tool_name":"Bash"}');
          child.once('exit', resolve);
        });
        ms.push(wallMs() - t0);
      }
      return ms.sort((a, b) => a - b);
    };
    const hookLife = await lifetime([join(root, 'dist/lib/cli/main.js'), 'hook', 'Stop'], env);
    const nodeLife = await lifetime(['-e', '0'], env);
    runner.close();
    client.close();
    const floor = quantile(pings, 0.99);
    return [
      {
        scenario: `maestro hook process → session:attention, p99 of ${calls}`,
        value: quantile(viaCli, 0.99),
        floor,
        unit: 'ms',
        target: '≤ 300 ms',
        met: quantile(viaCli, 0.99) <= 300,
      },
      {
        scenario: `hook HTTP call → session:attention, p99 of ${calls}`,
        value: quantile(viaHttp, 0.99),
        floor,
        unit: 'ms',
        target: '≤ 300 ms',
        met: quantile(viaHttp, 0.99) <= 300,
      },
      {
        scenario: `maestro hook process, start to exit (n=${hookLife.length}): median`,
        value: median(hookLife),
        floor: median(nodeLife),
        unit: 'ms',
      },
      {
        scenario: 'maestro hook process, start to exit: p99',
        value: quantile(hookLife, 0.99),
        floor: quantile(nodeLife, 0.99),
        unit: 'ms',
      },
      ...(await measureRunner({ root, quick })),
    ];
  } finally {
    await maestro?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
