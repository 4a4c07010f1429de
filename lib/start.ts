// Process start: configuration, the server, the local runner, and a clean stop on SIGINT/SIGTERM (§11).
import type { Config } from './config.js';
import { ConfigError, describeStore, parseConfig } from './config.js';
import { which } from './domain/agents.js';
import { type RunningServer, startServer } from './http/server.js';
import type { Logger } from './log.js';
import { createLogger } from './log.js';
import { PACKAGE_INFO } from './package-root.js';
import { defaultHostName, Runner } from './runner/index.js';

const SHUTDOWN_TIMEOUT_MS = 5000;

/** Starts the server from the environment and stops it cleanly on SIGINT/SIGTERM (contract §11). */
export async function runServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`maestro-server: ${error.message}`);
    process.exit(1);
  }
  const log = createLogger(config.logLevel);
  const server = await startServer(config, log).catch((error: NodeJS.ErrnoException) => {
    const reason = error.code === 'EADDRINUSE' ? `port ${config.port} is already in use` : error.message;
    log.error(`Cannot start: ${reason}`);
    process.exit(1);
  });
  const { db } = server.services;
  await startLocalRunner(config, server, log);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal} received: shutting down`);
    setTimeout(() => {
      log.error('Shutdown took longer than 5 s: exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    server.close().then(
      () => process.exit(0),
      (error) => {
        log.error('Shutdown failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Announced only once the signals are handled: a supervisor (or a test) that stops the server as soon as it reads
  // this line must get a clean shutdown, not the default action of a signal with no handler yet.
  log.info(
    `Maestro Server listening on ${server.url} (data in ${describeStore(config)}; ${db.count('projects')} projects, ${db.count('tasks')} tasks, ${db.count('sessions')} sessions)`,
  );
  if (config.token === undefined && config.allowInsecure) log.warn('Listening without a token (MAESTRO_ALLOW_INSECURE=1)');
}

/** The embedded runner of `maestro serve` (§15.2): on when tmux is on PATH, unless MAESTRO_LOCAL_RUNNER=0. */
async function startLocalRunner(config: Config, server: RunningServer, log: Logger) {
  if (!config.localRunner) return;
  if (!which('tmux')) {
    log.info('tmux is not on PATH: no local runner (a spawn goes to connected UIs, or waits for the runner it names)');
    return;
  }
  const name = config.hostName ?? defaultHostName();
  // The address the server listens on, except a wildcard's (any address of this machine): there, loopback. Not
  // 127.0.0.1 for every loopback name: a server on HOST=::1 does not listen on it, and its runner never connected.
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  const runner = new Runner({
    serverUrl: wildcard ? `http://127.0.0.1:${server.port}` : server.url,
    token: config.token,
    name,
    tmuxSocket: process.env.MAESTRO_TMUX_SOCKET || undefined,
    localKey: server.services.hosts.localKey,
    idleMs: config.idleMs,
    version: PACKAGE_INFO.version,
    log: (message) => log.debug(`local runner: ${message}`),
    onFatal: (message) => log.error(`local runner: ${message}`),
  });
  server.services.hosts.localName = name;
  server.services.onClose.unshift(() => runner.stop());
  runner.start();
  log.info(`Local runner "${name}" started (agents run in tmux; MAESTRO_LOCAL_RUNNER=0 turns it off)`);
}
