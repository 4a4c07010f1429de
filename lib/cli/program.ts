// The `maestro` CLI: a REST client of Maestro Server, plus `serve` and `manifest generate`.
import { Command, CommanderError } from 'commander';
import { PACKAGE_INFO } from '../package-root.js';
import { attachCommands } from './attach.js';
import { attentionCommands } from './attention.js';
import { CliError } from './client.js';
import { compatCommands } from './compat.js';
import { action, bindIo, type CliIo } from './context.js';
import { hookCommands } from './hook.js';
import { hostCommands } from './host.js';
import { initCommands } from './init.js';
import { manifestCommands } from './manifest.js';
import { messageCommands } from './messages.js';
import { projectCommands } from './projects.js';
import { queueCommands } from './queue.js';
import { sessionCommands } from './sessions.js';
import { taskCommands } from './tasks.js';
import { tokenCommands } from './tokens.js';
import { watchCommands } from './watch.js';
import { workspaceCommands } from './workspaces.js';

const { version } = PACKAGE_INFO;

/**
 * Runs `maestro <argv>` and resolves to its exit code, without exiting: the bin passes its own process's
 * environment and streams, tests pass theirs and run the CLI in-process.
 */
export async function run(argv: string[], options: Partial<CliIo> = {}): Promise<number> {
  const io: CliIo = {
    env: options.env ?? process.env,
    stdout: options.stdout ?? ((text) => void process.stdout.write(text)),
    stderr: options.stderr ?? ((text) => void process.stderr.write(text)),
    exitCode: 0,
    signal: options.signal,
    stdin: options.stdin,
  };
  const program = createProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    // Commands that run outside `action()` (host, mcp) fail the same way: a sentence, not a stack trace.
    if (error instanceof CliError) {
      io.stderr(`maestro: ${error.message}\n`);
      return error.exitCode;
    }
    if (!(error instanceof CommanderError)) throw error;
    // A usage error (unknown option, bad choice, missing argument) under --json: the answer a script parses, as
    // --json promises, besides commander's text on stderr. Help and --version end with exit code 0 and stay as they are.
    if (error.exitCode !== 0 && argv.includes('--json')) {
      const failure = { code: 'USAGE_ERROR', message: error.message.replace(/^error: /, '') };
      io.stdout(`${JSON.stringify({ success: false, error: failure }, null, 2)}\n`);
    }
    return error.exitCode;
  }
  return io.exitCode;
}

function createProgram(io: CliIo): Command {
  const program = new Command('maestro')
    .description('Maestro: coordinate several AI coding agents through Maestro Server')
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .option('--server <url>', 'server URL (default: $MAESTRO_API_URL, $MAESTRO_SERVER_URL, or http://localhost:3000)')
    .option('--project <id>', 'project for commands that take one (default: $MAESTRO_PROJECT_ID)')
    .option('--json', 'print {"success":true,"data":…} or {"success":false,"error":…} instead of text')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 error, 2 not found, 3 server unreachable.
Inside a terminal spawned by Maestro, $MAESTRO_SESSION_ID, $MAESTRO_TASK_IDS and $MAESTRO_PROJECT_ID are the defaults,
and $MAESTRO_SESSION_ID is sent as X-Session-ID (the sender of messages, the reader of an inbox).
MAESTRO_TOKEN, when set, is sent as a bearer token.`,
    );

  program
    .command('serve')
    .description('Start Maestro Server (configured by environment variables: PORT, HOST, DATA_DIR, …; see the README)')
    .action(async () => {
      const { runServer } = await import('../start.js');
      await runServer(io.env);
    });

  program
    .command('mcp')
    .description('Serve the agent tools (tasks, reports, messages, spawn) over MCP on stdio, for Claude Code, Codex, Gemini CLI…')
    .action(
      // Through action(): a bad server URL is the CLI's one-line error and exit 1, not a stack trace in the MCP
      // client's log.
      action(async (ctx) => {
        const { runMcp } = await import('./mcp.js');
        await runMcp(ctx.client.baseUrl, version, io.env);
      }),
    );

  projectCommands(program);
  taskCommands(program);
  sessionCommands(program);
  queueCommands(program);
  messageCommands(program);
  initCommands(program);
  manifestCommands(program);
  watchCommands(program);
  workspaceCommands(program);
  hostCommands(program);
  attachCommands(program);
  compatCommands(program);
  hookCommands(program);
  attentionCommands(program);
  tokenCommands(program);
  bindIo(program, io);
  return program;
}
