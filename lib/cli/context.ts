// What every command needs: the API client, the output mode, and the spawned terminal's `MAESTRO_*` defaults.
import type { Command } from 'commander';
import { CliError, Client, cliToken, EXIT, serverUrl } from './client.js';

/**
 * Text from the server as a terminal may show it: titles, names and timelines are anyone's input, and a control
 * character in them (an escape sequence) would drive the reader's terminal. Tabs and line breaks stay.
 */
const printable = (text: string) => text.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '');

/** What every command needs: the client, the output mode, and the spawned terminal's `MAESTRO_*` defaults. */
export interface Ctx {
  client: Client;
  json: boolean;
  env: Record<string, string | undefined>;
  /** The global `--project <id>` (the original CLI's). */
  globalProject: string | undefined;
  /** Prints a result: `{"success":true,"data":…}` with --json, else the human form. */
  out<T>(data: T, human: (data: T) => string): void;
  /** Prints text as it is (streams of events, messages). */
  print(text: string): void;
  /** Writes to stderr (warnings, progress). */
  warn(text: string): void;
  /** Ends a long-running command (`watch`) as Ctrl-C does, when the run was given one. */
  signal: AbortSignal | undefined;
  /** The ID given, else the one the terminal's environment names, else a usage error naming `flag`. */
  sessionId(given?: string, flag?: string): string;
  taskId(given?: string): string;
  projectId(given?: string): string;
}

/** Where a CLI run reads its environment and writes its output, and the exit code it ends with. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  exitCode: number;
  /** Stops a long-running command (`watch`) as Ctrl-C does: for runs in-process. */
  signal?: AbortSignal;
  /** What `maestro hook` reads as its stdin; the process's own when absent. */
  stdin?: NodeJS.ReadableStream | string;
}

const ios = new WeakMap<Command, CliIo>();

/** Ties a program to its run's io; every subcommand finds it through its root. */
export const bindIo = (program: Command, io: CliIo) => void ios.set(program, io);

/** The io of the run a command belongs to. */
export function ioOf(command: Command): CliIo {
  let root = command;
  while (root.parent) root = root.parent;
  const io = ios.get(root);
  if (!io) throw new Error('A CLI command ran outside run()');
  return io;
}

export function createCtx(command: Command): Ctx {
  const io = ioOf(command);
  const env = io.env;
  const opts = command.optsWithGlobals<{ server?: string; json?: boolean; project?: string }>();
  const json = Boolean(opts.json);
  const fallback = (given: string | undefined, value: string | undefined, what: string, flag: string) => {
    const id = given ?? value;
    if (!id) throw new CliError(`No ${what} given: pass ${flag}, or run inside a spawned session terminal`);
    return id;
  };
  return {
    // A spawned agent holds its session token, never the admin token (§15.6).
    client: newClient(serverUrl(opts.server, env), env),
    json,
    env,
    globalProject: opts.project,
    out: (data, human) => {
      const text = json ? JSON.stringify({ success: true, data }, null, 2) : printable(human(data));
      if (text) io.stdout(`${text}\n`);
    },
    print: (text) => io.stdout(printable(text)),
    warn: io.stderr,
    signal: io.signal,
    sessionId: (given, flag = 'a session ID') => fallback(given, env.MAESTRO_SESSION_ID, 'session ID', flag),
    taskId: (given) => fallback(given, env.MAESTRO_TASK_IDS?.split(',')[0], 'task ID', 'a task ID'),
    projectId: (given) => fallback(given ?? opts.project, env.MAESTRO_PROJECT_ID, 'project ID', '--project-id'),
  };
}

function newClient(url: string, env: Record<string, string | undefined>): Client {
  const { token, variable } = cliToken(env);
  return new Client(url, token, sessionHeader(env), variable);
}

/** Inside a session's terminal every request names that session, so the server knows who sends or reads (§16). */
const sessionHeader = (env: Record<string, string | undefined>): Record<string, string> => {
  const id = env.MAESTRO_SESSION_ID?.trim();
  return id ? { 'x-session-id': id } : {};
};

/** Wraps a command's action: builds its context and turns any failure into the right output and exit code. */
export function action<A extends unknown[]>(fn: (ctx: Ctx, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const json = Boolean(command.optsWithGlobals<{ json?: boolean }>().json);
    const io = ioOf(command);
    try {
      await fn(createCtx(command), ...(args.slice(0, -1) as A));
    } catch (error) {
      const failure = error instanceof CliError ? error : new CliError((error as Error).message ?? String(error));
      if (json) {
        const body = { code: failure.code, message: failure.message, ...(failure.details !== undefined && { details: failure.details }) };
        io.stdout(`${JSON.stringify({ success: false, error: body }, null, 2)}\n`);
      } else {
        io.stderr(`maestro: ${failure.message}\n`);
      }
      io.exitCode = failure.exitCode ?? EXIT.error;
    }
  };
}
