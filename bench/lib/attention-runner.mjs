// The runner's side of the attention bench (contract §21): a real `maestro host` process on a private tmux socket
// with fake agents. Quiet terminal → `idle` at a WebSocket client, and the runner process's CPU time with agents
// printing a line each per second against the same runner with the same agents silent.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { call, diskDir, endTmux, hasTmux, median, startChild, startMaestro, wallMs } from './harness.mjs';

const IDLE_MS = 2000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** utime + stime of a process, in seconds (Linux /proc; fields 14 and 15, in clock ticks of 1/100 s). */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

/**
 * The fake agent: prints a line and writes when it did (the start of its quiet spell), then stays quiet unless the
 * `tick` file exists, in which case it prints a line each second.
 */
const AGENT = `echo ready; date +%s%3N > "$1/$MAESTRO_SESSION_ID"
while :; do sleep 1; if [ -e "$1/tick" ]; then echo "tick $(date +%s)"; fi; done
`;

export async function measureRunner({ root, quick }) {
  if (!hasTmux()) return [{ scenario: 'attention (runner): skipped (no tmux)' }];
  const dir = diskDir('maestro-bench-attention-runner-');
  const work = join(dir, 'work');
  const marks = join(dir, 'marks');
  mkdirSync(work);
  mkdirSync(marks);
  writeFileSync(join(dir, 'agent.sh'), AGENT);
  const socket = `maestro-bench-attn-${process.pid}`;
  const agents = quick ? 50 : 200;
  const quiet = quick ? 10 : 20;
  const windowMs = quick ? 5000 : 15_000;
  let server, host, events;
  try {
    server = await startMaestro(root, dir, {
      MAESTRO_TOKEN: '',
      MAESTRO_LOCAL_RUNNER: '0',
      MAESTRO_IDLE_MS: String(IDLE_MS),
    });
    const { url } = server;
    host = await startChild(join(root, 'dist/lib/cli/main.js'), ['host', '--name', 'bench'], {
      cwd: root,
      ready: /connected as bench/,
      env: {
        MAESTRO_SERVER_URL: url,
        MAESTRO_TOKEN: '',
        MAESTRO_TMUX_SOCKET: socket,
        MAESTRO_IDLE_MS: String(IDLE_MS),
        // Read where the agent starts (`maestro worker init` in the runner's terminal), not by the server.
        MAESTRO_AGENT_COMMAND: `sh ${join(dir, 'agent.sh')} ${marks}`,
      },
    });
    // Every session's latest attention as it arrives, stamped on the machine's clock.
    const latest = new Map();
    const running = new Set();
    events = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`);
    events.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'session:attention') latest.set(m.data.sessionId, { state: m.data.attention?.state, at: wallMs() });
      if (m.type === 'session:updated' && m.data.run?.state === 'running') running.add(m.data.id);
    });
    await new Promise((r) => events.once('open', r));
    const project = await call(url, 'POST', '/api/projects', { name: 'Bench', workingDir: work });
    const spawn = async () => {
      const task = await call(url, 'POST', '/api/tasks', { projectId: project.id, title: 'bench' });
      const body = { projectId: project.id, taskIds: [task.id], agent: 'custom', host: 'bench' };
      return (await call(url, 'POST', '/api/sessions/spawn', body)).sessionId;
    };
    const until = async (done, what, ms = 180_000) => {
      for (const end = Date.now() + ms; !done(); await sleep(100)) if (Date.now() > end) throw new Error(`timed out: ${what}`);
    };

    // Quiet terminal → idle: from the agent's last output to the event at a client. A slow start (the agent's launcher
    // is a node process) can be a quiet spell of its own, reported idle before the agent printed: only an idle that
    // arrives after the agent's last output, and stays the latest, counts.
    const mark = (id) => (existsSync(join(marks, id)) ? Number(readFileSync(join(marks, id), 'utf8')) : undefined);
    const idleAfterOutput = (id) => latest.get(id)?.state === 'idle' && mark(id) !== undefined && latest.get(id).at > mark(id);
    const first = [];
    for (let i = 0; i < quiet; i++) first.push(await spawn());
    await until(() => first.every(idleAfterOutput), `${quiet} agents idle`);
    await sleep(1000);
    if (!first.every(idleAfterOutput)) throw new Error('an agent printed again after it was idle');
    const idleMs = first.map((id) => latest.get(id).at - mark(id)).sort((a, b) => a - b);

    // CPU: the rest of the agents, then the runner's CPU over a window with all silent, then all printing.
    const rest = [];
    for (let i = quiet; i < agents; i += 10) rest.push(...(await Promise.all(Array.from({ length: Math.min(10, agents - i) }, spawn))));
    const all = [...first, ...rest];
    await until(() => all.every((id) => running.has(id) && mark(id) !== undefined), `${agents} agents running and printed`);
    await sleep(IDLE_MS + 1000); // all quiet since
    const idleCount = all.filter(idleAfterOutput).length;
    const cpu = async () => {
      const c0 = cpuSeconds(host.child.pid);
      const t0 = performance.now();
      await sleep(windowMs);
      return ((cpuSeconds(host.child.pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
    };
    const silent = await cpu();
    const loadSilent = loadAverage();
    writeFileSync(join(marks, 'tick'), '');
    await sleep(2000); // every agent has started printing
    const printing = await cpu();
    const loadPrinting = loadAverage();
    rmSync(join(marks, 'tick'));
    const seconds = windowMs / 1000;
    return [
      {
        scenario: `quiet terminal → idle at a client, MAESTRO_IDLE_MS=${IDLE_MS}, ${quiet} agents: median`,
        value: median(idleMs),
        floor: IDLE_MS,
        unit: 'ms',
      },
      {
        scenario: 'quiet terminal → idle: max',
        value: idleMs.at(-1),
        floor: IDLE_MS,
        unit: 'ms',
        target: `≤ ${IDLE_MS + 1000} ms`,
        met: idleMs.at(-1) <= IDLE_MS + 1000,
      },
      {
        // What attention costs is the difference: nothing else in a runner reads an agent's output nobody watches.
        scenario: `runner CPU, ${agents} agents (${idleCount} idle when quiet) printing a line/s vs silent (${seconds} s each; load ${loadPrinting} / ${loadSilent})`,
        value: printing,
        floor: silent,
        unit: '% core',
        target: '< 5 % core',
        met: printing - silent < 5,
      },
    ];
  } finally {
    events?.close();
    await host?.stop();
    await server?.stop();
    endTmux(socket);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
