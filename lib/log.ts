/** Leveled logger writing to stderr, so stdout stays free for a CLI's own output. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface Logger {
  error(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  debug(message: string, ...rest: unknown[]): void;
}

export function createLogger(level: LogLevel = 'info'): Logger {
  const max = LOG_LEVELS.indexOf(level);
  const at =
    (l: LogLevel) =>
    (message: string, ...rest: unknown[]) => {
      if (LOG_LEVELS.indexOf(l) > max) return;
      console.error(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${message}`, ...rest);
    };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
