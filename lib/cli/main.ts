#!/usr/bin/env node
// The `maestro` CLI: a REST client of Maestro Server, plus `serve` and `manifest generate`.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { attachCommands } from './attach.js';
import { compatCommands } from './compat.js';
import { hostCommands } from './host.js';
import { initCommands } from './init.js';
import { manifestCommands } from './manifest.js';
import { projectCommands } from './projects.js';
import { queueCommands } from './queue.js';
import { sessionCommands } from './sessions.js';
import { taskCommands } from './tasks.js';

// Compiled to dist/lib/cli/main.js: the package root is three levels up.
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('maestro')
  .description('Maestro: coordinate several AI coding agents through Maestro Server')
  .version(pkg.version)
  .option('--server <url>', 'server URL (default: $MAESTRO_API_URL, $MAESTRO_SERVER_URL, or http://localhost:3000)')
  .option('--project <id>', 'project for commands that take one (default: $MAESTRO_PROJECT_ID)')
  .option('--json', 'print {"success":true,"data":…} or {"success":false,"error":…} instead of text')
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', `
Exit codes: 0 ok, 1 error, 2 not found, 3 server unreachable.
Inside a terminal spawned by Maestro, $MAESTRO_SESSION_ID, $MAESTRO_TASK_IDS and $MAESTRO_PROJECT_ID are the defaults.
MAESTRO_TOKEN, when set, is sent as a bearer token.`);

program
  .command('serve')
  .description('Start Maestro Server (configured by environment variables: PORT, HOST, DATA_DIR, …; see the README)')
  .action(async () => {
    const { runServer } = await import('../run.js');
    await runServer();
  });

projectCommands(program);
taskCommands(program);
sessionCommands(program);
queueCommands(program);
initCommands(program);
manifestCommands(program);
hostCommands(program);
attachCommands(program);
compatCommands(program);

await program.parseAsync();
