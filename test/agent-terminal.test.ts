import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLI_BIN, cliBaseEnv, onFileEnd, ROOT, tempDir, until } from './helpers.js';
import { BASH, killTmuxServer, startServe } from './runner-harness.js';

/*
 * What an agent meets in its terminal, through the real local runner of `maestro serve` and real tmux on sockets of
 * this test run only: `maestro` on its PATH (§24.6), the wake-up notice that never becomes a command (§24.8), and a
 * person attaching with `maestro attach`.
 */

const RUN = `mat${process.pid}`;
const SOCKET = `${RUN}-agents`;
const OUTER = `${RUN}-outer`;
const FAKE_AGENT = join(ROOT, 'test/fixtures/fake-agent.mjs');
onFileEnd(() => killTmuxServer(OUTER));

const server = await startServe(SOCKET, {
  MAESTRO_HOST_NAME: 'here',
  MAESTRO_IDLE_MS: '400',
  // The custom agent runs plain `maestro` commands, as the prompt tells a real agent to, then the fake agent.
  MAESTRO_AGENT_COMMAND: `maestro whoami && maestro report progress "maestro works here" && exec '${process.execPath}' '${FAKE_AGENT}' {promptFile}`,
});
const { call } = server;
const screen = (id: string, predicate: (text: string) => boolean) =>
  until(call, `/api/sessions/${id}/terminal`, (t) => typeof t?.text === 'string' && predicate(t.text));
const tmux = (socket: string, ...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });

const workingDir = join(tempDir(), 'work');
mkdirSync(workingDir);
const project = (await call('POST', '/api/projects', { name: 'Terminal', workingDir })).body;
async function spawn(title: string, agent: 'custom' | 'shell') {
  const task = (await call('POST', '/api/tasks', { projectId: project.id, title })).body;
  const res = await call('POST', '/api/sessions/spawn', { projectId: project.id, taskIds: [task.id], agent });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.host).toBe('here');
  return res.body.sessionId as string;
}

const SLOW = { timeout: 120_000 };

describe('agents can run maestro (§24.6)', SLOW, () => {
  it('plain `maestro whoami` and `maestro report` work in the agent, though no maestro is on the PATH given', async () => {
    await until(call, '/api/hosts/here', (h) => h?.status === 'online');
    const id = await spawn('Who am I', 'custom');
    const done = await until(call, `/api/sessions/${id}`, (s) => ['completed', 'failed'].includes(s?.status));
    const text = (await call('GET', `/api/sessions/${id}/terminal`)).body.text as string;
    expect(text).not.toContain('not found');
    expect(text).toMatch(new RegExp(`Session:\\s+${id}`));
    expect(done.status).toBe('completed');
    expect(done.timeline.map((e: any) => [e.type, e.message])).toContainEqual(['progress', 'maestro works here']);
  });
});

describe('the wake-up notice never runs as a command (§24.8)', SLOW, () => {
  it('a shell agent gets it on its screen: nothing typed, nothing run, a half-typed line intact', async () => {
    const id = await spawn('Shell agent', 'shell');
    await screen(id, (t) => t.includes('Shell agent') && /[$#]\s*$/.test(t));
    // A person has half typed a command when the message arrives.
    tmux(SOCKET, 'send-keys', '-t', `maestro-${id}`, '-l', 'echo half');
    await screen(id, (t) => t.includes('echo half'));
    const sent = await call('POST', `/api/sessions/${id}/messages`, { message: 'Please rebase', metadata: { priority: 'high' } });
    expect(sent.status).toBe(201);
    await screen(id, (t) => t.includes('[maestro] New message from user: run "maestro inbox"'));
    expect((await until(call, `/api/messages/${sent.body.id}`, (m) => m?.status !== 'pending')).status).toBe('delivered');

    tmux(SOCKET, 'send-keys', '-t', `maestro-${id}`, '-l', '--', '-typed');
    tmux(SOCKET, 'send-keys', '-t', `maestro-${id}`, 'Enter');
    const after = await screen(id, (t) => /^half-typed$/m.test(t));
    expect(after.text).not.toContain('command not found');
    expect(after.text).not.toMatch(/\[maestro\]: (command )?not found/);
    if (BASH) {
      tmux(SOCKET, 'send-keys', '-t', `maestro-${id}`, '-l', 'history');
      tmux(SOCKET, 'send-keys', '-t', `maestro-${id}`, 'Enter');
      const listed = await screen(id, (t) => /^\s+\d+\s+history$/m.test(t));
      const history = listed.text.split('\n').filter((line: string) => /^\s+\d+\s+\S/.test(line));
      expect(history.map((line: string) => line.trim().replace(/^\d+\s+/, ''))).toEqual(['echo half-typed', 'history']);
    }
    await call('POST', `/api/sessions/${id}/stop`, {});
  });

  it('another agent gets it typed only once its terminal is quiet; until then the message stays pending', async () => {
    const id = await spawn('MODE:busy', 'custom');
    await screen(id, (t) => t.includes('tick 1'));
    const sent = await call('POST', `/api/sessions/${id}/messages`, { message: 'Ping', metadata: { priority: 'medium' } });
    const notice = 'ECHO:[maestro] New message from user: run "maestro inbox"';
    const shown = await screen(id, (t) => t.includes(notice));
    // Typed while it printed, the agent would have echoed it before it went quiet.
    expect(shown.text.indexOf(notice)).toBeGreaterThan(shown.text.indexOf('QUIET'));
    expect((await until(call, `/api/messages/${sent.body.id}`, (m) => m?.status === 'delivered')).deliveredAt).toBeGreaterThan(0);
    await call('POST', `/api/sessions/${id}/stop`, {});
  });
});

describe('maestro attach', SLOW, () => {
  it("resizes the agent's window to a wider terminal, even after a live viewer had set its size; works inside tmux", async () => {
    const id = await spawn('Attach to me', 'shell');
    await screen(id, (t) => t.includes('Attach to me'));
    const target = `=maestro-${id}:`;
    // A dashboard viewer sets the size (tmux then keeps it fixed: its window-size is `manual`).
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/sessions/${id}/terminal`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ type: 'resize', cols: 80, rows: 24 }));
    for (let i = 0; i < 200 && tmux(SOCKET, 'display-message', '-p', '-t', target, '#{window_width}').trim() !== '80'; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(tmux(SOCKET, 'display-message', '-p', '-t', target, '#{window_width}').trim()).toBe('80');
    ws.close();

    // A person's terminal, 230 columns wide, that is itself a tmux pane (so TMUX is set in it).
    const env = { ...cliBaseEnv(), MAESTRO_API_URL: server.url, MAESTRO_TMUX_SOCKET: SOCKET };
    const attach = ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, CLI_BIN, 'attach', id];
    tmux(OUTER, 'new-session', '-d', '-x', '230', '-y', '60', '-s', 'person', '--', ...attach);
    const deadline = Date.now() + 20_000;
    let width = '';
    while (Date.now() < deadline && (width = tmux(SOCKET, 'display-message', '-p', '-t', target, '#{window_width}').trim()) !== '230') {
      await new Promise((r) => setTimeout(r, 50));
    }
    const outer = tmux(OUTER, 'capture-pane', '-p', '-t', 'person');
    expect(width, outer).toBe('230');
    expect(outer).not.toContain('sessions should be nested with care');
    tmux(OUTER, 'kill-server');
    await call('POST', `/api/sessions/${id}/stop`, {});
  });
});

/**
 * `maestro attach` in a person's terminal (a pane of the tmux server OUTER) over the server's live terminal: no tmux
 * socket of the agent's here. Resolves with the pane's text once it shows `attach exited <code>`.
 */
function attachRemotely(url: string, id: string, pane: string) {
  const env = { ...cliBaseEnv(), MAESTRO_API_URL: url, MAESTRO_TMUX_SOCKET: `${RUN}-none` };
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  const line = ['env', ...Object.entries(env).map(([k, v]) => quote(`${k}=${v}`)), quote(process.execPath), quote(CLI_BIN), 'attach', id];
  tmux(
    OUTER,
    'new-session',
    '-d',
    '-x',
    '230',
    '-y',
    '50',
    '-s',
    pane,
    '--',
    'sh',
    '-c',
    `${line.join(' ')}; echo "attach exited $?"; sleep 600`,
  );
  const text = () => tmux(OUTER, 'capture-pane', '-p', '-J', '-t', `=${pane}:`);
  const until = async (what: RegExp) => {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      if (what.test(text())) return text();
    }
    throw new Error(`the person's terminal never showed ${what}:\n${text()}`);
  };
  // Attached once the agent's screen shows there (it starts by clearing the terminal, "Attached to …" included).
  return { attached: (screenText: string) => until(new RegExp(screenText)), exited: () => until(/attach exited \d+/) };
}

describe('maestro attach over the live terminal ends when the agent does', SLOW, () => {
  it('the agent exits: attach says so and gives the terminal back (exit 0); attaching again says there is nothing to attach to', async () => {
    const id = await spawn('Attach till the end', 'shell');
    await screen(id, (t) => t.includes('Attach till the end') && /[$#]\s*$/.test(t));
    const first = attachRemotely(server.url, id, 'till-end');
    await first.attached('Attach till the end');
    await call('POST', `/api/sessions/${id}/input`, { text: 'exit' });
    // Before: the terminal stayed attached to the dead agent until the person found Ctrl-].
    const shown = await first.exited();
    expect(shown).toContain(`The agent of ${id} has exited (exit code 0); detached.`);
    expect(shown).toContain('attach exited 0');

    const again = await attachRemotely(server.url, id, 'after-end').exited();
    expect(again).toContain(`maestro: The agent of ${id} has exited (exit code 0): there is nothing to attach to.`);
    expect(again).toContain('attach exited 1');
  });
});

describe('maestro attach when the server goes away', SLOW, async () => {
  const socket = `${RUN}-gone`;
  const gone = await startServe(socket, { MAESTRO_HOST_NAME: 'gone' });
  await until(gone.call, '/api/hosts/gone', (h) => h?.status === 'online');
  const dir = join(tempDir(), 'work');
  mkdirSync(dir);
  const projectId = (await gone.call('POST', '/api/projects', { name: 'Gone', workingDir: dir })).body.id;

  it('says the connection was lost, that the agent keeps running and how to attach again; exit 1', async () => {
    const task = (await gone.call('POST', '/api/tasks', { projectId, title: 'Outlive the server' })).body;
    const id = (await gone.call('POST', '/api/sessions/spawn', { projectId, taskIds: [task.id], agent: 'shell' })).body.sessionId;
    await until(gone.call, `/api/sessions/${id}/terminal`, (t) => t?.text?.includes('Outlive the server'));
    const person = attachRemotely(gone.url, id, 'server-gone');
    await person.attached('Outlive the server');
    gone.proc.kill('SIGTERM');
    expect(await gone.exited).toBe(0);
    const shown = await person.exited();
    // Before: "Detached; the agent keeps running." and exit 0, as if the person had detached.
    expect(shown).toContain(
      `maestro: The connection to Maestro Server was lost; the agent keeps running. Attach again once it is back: maestro attach ${id}`,
    );
    expect(shown).toContain('attach exited 1');
  });
});
