import { ConfigError, parseConfig } from './config.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';

const SHUTDOWN_TIMEOUT_MS = 5000;

/** Starts the server from the environment and stops it cleanly on SIGINT/SIGTERM (contract §11). */
export async function runServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config;
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
  log.info(`Maestro Server listening on ${server.url} (data in ${config.dataDir}; ${db.count('projects')} projects, ${db.count('tasks')} tasks, ${db.count('sessions')} sessions)`);
  if (config.token === undefined && config.allowInsecure) log.warn('Listening without a token (MAESTRO_ALLOW_INSECURE=1)');

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
}
