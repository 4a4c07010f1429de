import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI_BIN, cliBaseEnv, onFileEnd, ROOT } from './helpers.js';
import { killTmuxServer, PATH_WITHOUT_MAESTRO, startServe } from './runner-harness.js';

/*
 * The README's tour from a shell, word for word: each line of its `sh` block runs as written (the IDs a command
 * printed go where the line shows `proj_…`, `task_…`, `sess_…`), against the compiled server with its local runner
 * and real tmux, as `npm start` runs them. `maestro attach` runs in a terminal of its own (a tmux pane of this test),
 * and the indented line is typed into it: the shell agent runs `maestro report progress`, which must reach the server.
 * Only `npm link` is not run (it would change this machine's global packages): a `maestro` on PATH stands for it.
 */

const RUN = `mtour${process.pid}`;
const SOCKET = `${RUN}-agents`;
const PERSON = `${RUN}-person`;

interface TourLine {
  command: string;
  comment: string;
  /** Typed inside the attached agent's terminal. */
  inAgent: boolean;
}

/** The `sh` block after "The same from a shell" in README.md, line by line. */
function tourLines(): TourLine[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /The same from a shell[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no shell tour block');
  return block
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [, command, comment] = /^(.*?)(?:\s{2,}#\s*(.*))?$/.exec(line)!;
      return { command: command!.trim(), comment: comment ?? '', inAgent: /^\s/.test(line) };
    });
}

const execFileAsync = promisify(execFile);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the README's tour from a shell", { timeout: 180_000 }, () => {
  it('works word for word, ending with an agent that reported progress', async () => {
    const server = await startServe(SOCKET);
    // Registered after the server's home: the person's terminal ends before that home is removed.
    onFileEnd(() => killTmuxServer(PERSON));
    const { home } = server;
    const bin = join(home, 'bin');
    mkdirSync(bin);
    // The person's shell: their home, `maestro` on PATH once `npm link` ran, the server the tour started.
    const env = {
      ...cliBaseEnv(),
      HOME: home,
      PATH: `${bin}${delimiter}${PATH_WITHOUT_MAESTRO}`,
      MAESTRO_API_URL: server.url,
      MAESTRO_TMUX_SOCKET: SOCKET,
    };
    const ids: Record<string, string> = {};
    const fill = (text: string) => text.replace(/\b(proj|task|sess)_…/g, (match, kind: string) => ids[kind] ?? match);
    /** What the line's `# → …` comment says the command prints (up to a `;` or a parenthesis); an ID not known yet is any. */
    const promised = (comment: string) => {
      if (!comment.startsWith('→ ')) return undefined;
      const text = fill(
        comment
          .slice(2)
          .split(';')[0]!
          .replace(/\s*\(.*\)$/, ''),
      );
      return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\b(proj|task|sess)_…/g, '$1_\\S+'));
    };

    const lines = tourLines();
    expect(lines.length).toBeGreaterThan(5);
    let agentScreen = '';
    let session = '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const command = fill(line.command);
      if (command === 'npm link') {
        writeFileSync(join(bin, 'maestro'), `#!/bin/sh\nexec '${process.execPath}' '${CLI_BIN}' "$@"\n`, { mode: 0o755 });
        continue;
      }
      if (command.startsWith('maestro attach ')) {
        // A person reads the spawn's answer first: by then the agent runs.
        for (let t = 0; t < 600; t++) {
          const s = await (await fetch(`${server.url}/api/sessions/${ids.sess}`)).json();
          if (s.run?.state === 'running') break;
          await wait(50);
        }
        // A terminal for the person, where they run the line and then type the indented lines into the agent.
        const shellEnv = Object.entries(env).map(([k, v]) => `${k}=${v}`);
        execFileSync('tmux', [
          '-L',
          PERSON,
          'new-session',
          '-d',
          '-x',
          '200',
          '-y',
          '50',
          '-s',
          'person',
          '--',
          'env',
          ...shellEnv,
          'sh',
          '-c',
          command,
        ]);
        session = ids.sess!;
        const screen = () => execFileSync('tmux', ['-L', SOCKET, 'capture-pane', '-p', '-t', `maestro-${session}`], { encoding: 'utf8' });
        const attached = () =>
          execFileSync('tmux', ['-L', SOCKET, 'list-clients', '-t', `maestro-${session}`], { encoding: 'utf8' }).trim() !== '';
        for (let t = 0; t < 400 && !(attached() && /[$#]\s*$/.test(screen().trimEnd())); t++) await wait(50);
        expect(attached(), screen()).toBe(true);
        for (; lines[i + 1]?.inAgent; i++) {
          const typed = lines[i + 1]!;
          execFileSync('tmux', ['-L', PERSON, 'send-keys', '-t', 'person', '-l', fill(typed.command)]);
          execFileSync('tmux', ['-L', PERSON, 'send-keys', '-t', 'person', 'Enter']);
          const expected = promised(typed.comment);
          for (let t = 0; t < 400 && !(expected ? expected.test(screen()) : false); t++) await wait(50);
          agentScreen = screen();
          if (expected) expect(agentScreen).toMatch(expected);
        }
        // Ctrl-b d: the person detaches; the agent keeps running.
        execFileSync('tmux', ['-L', PERSON, 'send-keys', '-t', 'person', 'C-b', 'd']);
        for (let t = 0; t < 200 && attached(); t++) await wait(50);
        expect(attached()).toBe(false);
        continue;
      }
      expect(line.inAgent, `${command} is typed into an agent, but no maestro attach came before it`).toBe(false);
      /*
       * Not execFileSync: the commands blocked this process for seconds, and a server closes a kept-alive connection
       * after 5 s idle; a fetch right after such a block took that connection before this process had read its close,
       * and failed with "other side closed" (a loaded machine makes the commands slow enough).
       */
      const { stdout } = await execFileAsync('sh', ['-c', command], { env, encoding: 'utf8', cwd: home });
      const created = /^(?:Created project|Created task|Spawned session) ((proj|task|sess)_\S+)$/m.exec(stdout);
      if (created) ids[created[2]!] = created[1]!;
      const expected = promised(line.comment);
      if (expected) expect(stdout.split('\n')[0]).toMatch(new RegExp(`^${expected.source}$`));
      if (command.startsWith('maestro session info')) {
        expect(stdout).toMatch(/^Status:\s+(idle|working)$/m);
        expect(stdout).toMatch(/progress.*Found the bug/);
      }
    }
    expect(agentScreen).not.toContain('command not found');
    const final = await (await fetch(`${server.url}/api/sessions/${session}`)).json();
    expect(final.timeline.map((e: any) => [e.type, e.message])).toContainEqual(['progress', 'Found the bug']);
    expect(final.run.state).toBe('running');
  });
});
