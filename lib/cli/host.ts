// `maestro host`: a runner in the foreground (§15.2).
import type { Command } from 'commander';
import { ConfigError, parseIdleMs } from '../config.js';
import { PACKAGE_INFO } from '../package-root.js';
import { isHostName } from '../runner-protocol.js';
import { serverUrl } from './client.js';

/** `maestro host` (contract §15.2): a runner in the foreground. */
export function hostCommands(program: Command) {
  program
    .command('host')
    .description('Run agents on this machine for a Maestro Server: connect out to it and launch its spawns in tmux')
    .option('--name <name>', "host name (default: $MAESTRO_HOST_NAME, else this machine's name)")
    .action(async (opts: { name?: string }, command: Command) => {
      // Loaded here, not at startup: every other command stays quick to start.
      const { defaultHostName, Runner } = await import('../runner/index.js');
      const env = process.env;
      const url = serverUrl(command.optsWithGlobals<{ server?: string }>().server, env);
      const name = opts.name ?? env.MAESTRO_HOST_NAME ?? defaultHostName();
      if (!isHostName(name)) {
        process.stderr.write(`maestro: invalid host name "${name}" (letters, digits, _ . - ; at most 64)\n`);
        process.exit(1);
      }
      let idleMs: number;
      try {
        // The server's own rule (§10): a value it would refuse is not quietly replaced by the default here either.
        idleMs = parseIdleMs(env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        process.stderr.write(`maestro: ${error.message}\n`);
        process.exit(1);
      }
      const runner = new Runner({
        serverUrl: url,
        token: env.MAESTRO_HOST_TOKEN || env.MAESTRO_TOKEN || undefined,
        name,
        tmuxSocket: env.MAESTRO_TMUX_SOCKET || undefined,
        idleMs,
        version: PACKAGE_INFO.version,
        log: (message) => process.stderr.write(`maestro host ${name}: ${message}\n`),
        onFatal: (message) => {
          process.stderr.write(`maestro: ${message}\n`);
          process.exit(1);
        },
      });
      runner.start();
      const stop = () => void runner.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
