// tmux on the runner's machine: its environment, its server socket, and what its panes show.
import { cleanEnv } from './clean-env.js';

export { cleanEnv, SECRET_VARS } from './clean-env.js';

/**
 * The tmux command that makes the next `new-session` take this runner's environment as it is now (contract §15.3).
 * A session's processes otherwise get the tmux server's global environment, fixed when the server started; and the
 * server outlives a runner while any agent lives, so a restarted runner's new `PATH` or agent command would never
 * reach its new agents. tmux copies the variables named in `update-environment` from the environment of the client
 * running the command, which is the runner's own (see `Tmux.#exec`): the values go neither into an argument list
 * (visible in `ps`) nor through tmux's parser, so `#`, `;` and quotes stay as they are.
 */
export const takeRunnerEnvironment = (extra: string[] = []): string[] => [
  'set-option',
  '-g',
  'update-environment',
  [...new Set([...Object.keys(cleanEnv()), ...extra])].join(' '),
];

export interface PaneState {
  sessionId: string;
  dead: boolean;
  /** tmux has reaped the process: `exitCode`/`signal` are known (the pane can close a moment before). */
  statusKnown: boolean;
  exitCode: number | null;
  signal: string | null;
  pid: number | undefined;
}

export const tmuxName = (sessionId: string) => `maestro-${sessionId}`;

/**
 * A value for an argument that tmux expands as a format (a `-c` start directory, a `pipe-pane` command): `#(…)`
 * would run a command and `#{…}` read tmux state, so every `#` is doubled and reaches the program as one `#`.
 */
export const formatLiteral = (value: string) => value.replaceAll('#', '##');

/**
 * tmux on one server socket (`tmux -L <socket>`). Every call is an argument vector handed to execa without a shell,
 * so no value (directory, environment value, command argument) is ever parsed by a shell or by tmux's command parser.
 */
export class Tmux {
  constructor(readonly socket: string) {}

  async run(args: string[], input?: string) {
    return this.#exec(args.map(escapeArg), input);
  }

  /**
   * Several tmux commands in one tmux process (`cmd1 ; cmd2 ; …`), each argument escaped. `env`: variables added to
   * that tmux client's environment, for `update-environment` to hand to a new session (never on a command line).
   */
  chain(commands: string[][], env: Record<string, string> = {}) {
    return this.#exec(
      commands.flatMap((args, i) => [...(i ? [';'] : []), ...args.map(escapeArg)]),
      undefined,
      env,
    );
  }

  async #exec(args: string[], input?: string, env: Record<string, string> = {}) {
    // execa (about 130 modules) loads on the first command, not with the server: a server without a local runner never needs it.
    const { execa } = await import('execa');
    const result = await execa('tmux', ['-L', this.socket, ...args], {
      input,
      env: { ...cleanEnv(), ...env },
      extendEnv: false,
      reject: false,
      timeout: 10_000,
    });
    return { ok: result.exitCode === 0, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '').trim() };
  }

  async must(args: string[], input?: string): Promise<string> {
    const result = await this.run(args, input);
    if (!result.ok) throw new Error(`tmux ${args[0]} failed: ${result.stderr || 'unknown error'}`);
    return result.stdout;
  }

  /**
   * Every Maestro pane on this socket (none when the tmux server is not running). `strict`: any other failure of tmux
   * (a timeout on a loaded machine) throws instead of answering none, for callers that take a missing pane as an end.
   */
  async panes(strict = false): Promise<PaneState[]> {
    const result = await this.run([
      'list-panes',
      '-a',
      '-F',
      '#{session_name}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_dead_signal}\t#{pane_pid}',
    ]);
    if (!result.ok) {
      if (strict && !/no server running|error connecting/.test(result.stderr)) throw new Error(`tmux list-panes failed: ${result.stderr}`);
      return [];
    }
    const panes: PaneState[] = [];
    for (const line of result.stdout.split('\n')) {
      const [name, dead, status, signal, pid] = line.split('\t');
      if (!name?.startsWith('maestro-')) continue;
      panes.push({
        sessionId: name.slice('maestro-'.length),
        dead: dead === '1',
        statusKnown: dead === '1' && (status !== '' || signal !== ''),
        exitCode: dead === '1' && status !== '' && !signal ? Number(status) : null,
        signal: dead === '1' && signal ? signalName(Number(signal)) : null,
        pid: pid ? Number(pid) : undefined,
      });
    }
    return panes;
  }

  /** The last `lines` lines of the pane (history included), without tmux's "Pane is dead" notice and trailing blanks. */
  async text(sessionId: string, lines: number): Promise<string> {
    const out = await this.must(['capture-pane', '-p', '-J', '-t', tmuxName(sessionId), '-S', `-${lines}`]);
    const rows = out.split('\n').filter((row) => !/^Pane is dead \(/.test(row));
    while (rows.length && rows.at(-1)!.trim() === '') rows.pop();
    return rows.slice(-lines).join('\n');
  }
}

/**
 * tmux ends a command at any argument that ends in `;` (even inside one argv), and turns a trailing `\;` into `;`:
 * so a value ending in `;` gets a backslash before it, and reaches the program unchanged.
 */
const escapeArg = (arg: string) => (arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg);

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  15: 'SIGTERM',
};
const signalName = (n: number) => SIGNALS[n] ?? `SIG${n}`;
