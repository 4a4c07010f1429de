// The server's configuration, read from the environment and checked at startup (§10).
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { AGENT_PRESETS, isAgentPreset } from './domain/agents.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { isHostName } from './runner-protocol.js';

/** Server configuration, read from the environment only (contract §10). */
export interface Config {
  port: number;
  host: string;
  token: string | undefined;
  allowInsecure: boolean;
  corsOrigins: string[];
  /** `SERVER_URL`, or undefined to derive `http://localhost:<port>` once the port is known. */
  serverUrl: string | undefined;
  dataDir: string;
  /** `DATABASE_TYPE` (or `postgres` when only `DATABASE_URL` is set): which storage engine keeps the data (§22). */
  databaseType: 'file' | 'postgres';
  /** `DATABASE_URL`: the PostgreSQL database (§22.2); undefined on the file engine. */
  databaseUrl: string | undefined;
  sessionDir: string;
  skillsDir: string;
  /** An executable given by `MAESTRO_CLI_PATH`, or undefined for this package's own CLI. */
  cliPath: string | undefined;
  /** How long `manifest generate` may run before a spawn fails (`MAESTRO_CLI_TIMEOUT_MS`, an extension). */
  cliTimeoutMs: number;
  /** `MAESTRO_MESSAGE_RATE`: messages a session may send per rolling minute; 0 = unlimited (§16.2). */
  messageRate: number;
  /** `MAESTRO_MESSAGE_RETENTION_DAYS`: messages are deleted this long after they were created (§16.4). */
  messageRetentionDays: number;
  debug: boolean;
  logLevel: LogLevel;
  nodeEnv: 'development' | 'production' | 'test';
  /** Days logged events are kept (beyond the newest 100,000), `MAESTRO_EVENT_RETENTION_DAYS`. */
  eventRetentionDays: number;
  /** Bytes the event log may hold before its oldest segments go, `MAESTRO_EVENT_RETENTION_BYTES` (default 1 GiB). */
  eventRetentionBytes: number;
  /** Extra `Host` header names accepted when no token is set (`MAESTRO_ALLOWED_HOSTS`, contract §13.4). */
  allowedHosts: string[];
  /** Start the embedded local runner in `maestro serve` (`MAESTRO_LOCAL_RUNNER`, default on; §15.2). */
  localRunner: boolean;
  /** The local runner's host name (`MAESTRO_HOST_NAME`); undefined for the machine's name. */
  hostName: string | undefined;
  /** Terminal quiet time before an agent counts as `idle` and a wake-up notice may be typed (`MAESTRO_IDLE_MS`, §21, §24.8). */
  idleMs: number;
  /** Default agent preset of spawns (`MAESTRO_AGENT`, §15.3). */
  agent: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Expands a leading `~` and resolves to an absolute path. */
export function expandPath(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/') || path.startsWith('~\\')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(path);
}

const text = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value ? value : undefined;
};

/** `MAESTRO_IDLE_MS` (§21): 5,000 when unset, else whole milliseconds of at least 100; read by the server and by `maestro host`. */
export function parseIdleMs(env: Env): number {
  const idleText = text(env, 'MAESTRO_IDLE_MS') ?? '5000';
  if (!/^\d+$/.test(idleText) || Number(idleText) < 100) {
    throw new ConfigError(`MAESTRO_IDLE_MS must be a whole number of milliseconds (at least 100), got "${idleText}"`);
  }
  return Number(idleText);
}

/**
 * A yes/no setting: 1/0, true/false, yes/no, on/off (any case), else a ConfigError; `fallback` when unset. A value
 * read any other way would surprise someone (`MAESTRO_LOCAL_RUNNER=false` used to leave the runner on).
 */
function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = text(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name} must be 1 or 0 (or true/false, yes/no, on/off), got "${env[name]}"`);
}

/** `DATA_DIR` as the server and `maestro manifest generate` both resolve it. */
export const resolveDataDir = (env: Env = process.env) => expandPath(text(env, 'DATA_DIR') ?? '~/.maestro/data');

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Parses and validates every variable of contract §10; throws ConfigError with a message fit for a person. */
export function parseConfig(env: Env = process.env): Config {
  const portText = text(env, 'PORT') ?? '3000';
  // 0 is accepted on purpose: it asks the system for a free port (tests, several instances).
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) {
    throw new ConfigError(`PORT must be an integer from 1 to 65535 (or 0 for any free port), got "${portText}"`);
  }
  const debug = ['true', '1'].includes(text(env, 'DEBUG')?.toLowerCase() ?? '');
  const logLevel = (text(env, 'LOG_LEVEL')?.toLowerCase() ?? (debug ? 'debug' : 'info')) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  const nodeEnv = text(env, 'NODE_ENV') ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'production' && nodeEnv !== 'test') {
    throw new ConfigError(`NODE_ENV must be one of development, production, test, got "${nodeEnv}"`);
  }
  const host = text(env, 'HOST') ?? '127.0.0.1';
  const token = text(env, 'MAESTRO_TOKEN');
  // Only the exact `1` lifts the refusal below: a protection is not turned off by a value that might mean something else.
  const allowInsecure = text(env, 'MAESTRO_ALLOW_INSECURE') === '1';
  if (!isLoopbackHost(host) && !token && !allowInsecure) {
    throw new ConfigError(
      `Refusing to listen on ${host} without MAESTRO_TOKEN: anyone who can reach this port could make ` +
        'connected UIs run commands. Set MAESTRO_TOKEN, or MAESTRO_ALLOW_INSECURE=1 if the network is trusted.',
    );
  }
  const serverUrl = text(env, 'SERVER_URL');
  if (serverUrl && !URL.canParse(serverUrl)) throw new ConfigError(`SERVER_URL must be a URL, got "${serverUrl}"`);
  const cliPath = text(env, 'MAESTRO_CLI_PATH');
  const timeoutText = text(env, 'MAESTRO_CLI_TIMEOUT_MS') ?? '30000';
  if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 1) {
    throw new ConfigError(`MAESTRO_CLI_TIMEOUT_MS must be a positive integer (milliseconds), got "${timeoutText}"`);
  }
  const rateText = text(env, 'MAESTRO_MESSAGE_RATE') ?? '10';
  if (!/^\d+$/.test(rateText)) {
    throw new ConfigError(`MAESTRO_MESSAGE_RATE must be a whole number of messages per minute (0 = unlimited), got "${rateText}"`);
  }
  const messageRetentionText = text(env, 'MAESTRO_MESSAGE_RETENTION_DAYS') ?? '7';
  if (!/^\d+(\.\d+)?$/.test(messageRetentionText) || Number(messageRetentionText) <= 0) {
    throw new ConfigError(`MAESTRO_MESSAGE_RETENTION_DAYS must be a positive number of days, got "${messageRetentionText}"`);
  }
  const retentionText = text(env, 'MAESTRO_EVENT_RETENTION_DAYS') ?? '7';
  if (!/^\d+(\.\d+)?$/.test(retentionText)) {
    throw new ConfigError(`MAESTRO_EVENT_RETENTION_DAYS must be a non-negative number of days, got "${retentionText}"`);
  }
  const retentionBytesText = text(env, 'MAESTRO_EVENT_RETENTION_BYTES') ?? String(1024 ** 3);
  if (!/^\d+$/.test(retentionBytesText) || Number(retentionBytesText) < 1024 * 1024) {
    throw new ConfigError(`MAESTRO_EVENT_RETENTION_BYTES must be a whole number of bytes, at least 1048576, got "${retentionBytesText}"`);
  }
  const hostName = text(env, 'MAESTRO_HOST_NAME');
  if (hostName !== undefined && !isHostName(hostName)) {
    throw new ConfigError(`MAESTRO_HOST_NAME must be 1–64 letters, digits, "_", "." or "-", got "${hostName}"`);
  }
  const agent = text(env, 'MAESTRO_AGENT');
  if (agent !== undefined && !isAgentPreset(agent)) {
    throw new ConfigError(`MAESTRO_AGENT must be one of ${AGENT_PRESETS.join(', ')}, got "${agent}"`);
  }
  const { databaseType, databaseUrl } = parseDatabase(env);
  return {
    databaseType,
    databaseUrl,
    port: Number(portText),
    host,
    token,
    allowInsecure,
    corsOrigins: (text(env, 'CORS_ORIGINS') ?? '')
      .split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter(Boolean),
    serverUrl: serverUrl?.replace(/\/+$/, ''),
    dataDir: resolveDataDir(env),
    sessionDir: expandPath(text(env, 'SESSION_DIR') ?? '~/.maestro/sessions'),
    skillsDir: expandPath(text(env, 'SKILLS_DIR') ?? '~/.agents-ui/maestro-skills'),
    cliPath: cliPath ? expandPath(cliPath) : undefined,
    cliTimeoutMs: Number(timeoutText),
    messageRate: Number(rateText),
    messageRetentionDays: Number(messageRetentionText),
    debug,
    logLevel,
    nodeEnv,
    eventRetentionDays: Number(retentionText),
    eventRetentionBytes: Number(retentionBytesText),
    allowedHosts: (text(env, 'MAESTRO_ALLOWED_HOSTS') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    localRunner: flag(env, 'MAESTRO_LOCAL_RUNNER', true),
    hostName,
    agent,
    idleMs: parseIdleMs(env),
  };
}

/** `DATABASE_TYPE` and `DATABASE_URL` (§10, §22): messages never repeat the URL, which may hold a password. */
function parseDatabase(env: Env): Pick<Config, 'databaseType' | 'databaseUrl'> {
  const type = text(env, 'DATABASE_TYPE')?.toLowerCase();
  const url = text(env, 'DATABASE_URL');
  if (type !== undefined && type !== 'file' && type !== 'postgres') {
    throw new ConfigError(`DATABASE_TYPE must be "file" or "postgres", got "${env.DATABASE_TYPE}"`);
  }
  // An explicit `file` keeps the file engine even where the platform sets DATABASE_URL for something else.
  if (type === 'file' || (type === undefined && url === undefined)) return { databaseType: 'file', databaseUrl: undefined };
  if (url === undefined) throw new ConfigError('DATABASE_TYPE=postgres needs DATABASE_URL (postgres://user:password@host:port/database)');
  if (!/^postgres(ql)?:\/\//i.test(url) || !URL.canParse(url)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL (postgres://user:password@host:port/database)');
  }
  return { databaseType: 'postgres', databaseUrl: url };
}

/** `host:port/database` of a `postgres://` URL (never its user's password), for messages. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || decodeURIComponent(u.searchParams.get('host') ?? '') || 'localhost';
    return `${host}${u.port ? `:${u.port}` : ''}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return 'the database';
  }
}

/** Where the data lives, for messages: the data directory, or the PostgreSQL database without its password. */
export const describeStore = (config: Config) =>
  config.databaseType === 'postgres' ? `PostgreSQL at ${describeDatabase(config.databaseUrl!)}` : config.dataDir;
