/** Exit codes of the `maestro` CLI. */
export const EXIT = { ok: 0, error: 1, notFound: 2, unreachable: 3 } as const;

/** A failure the CLI reports: its message, exit code and, for `--json`, a machine-readable code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
    readonly code = 'ERROR',
    readonly details?: unknown,
  ) {
    super(message);
  }
}

type Env = Record<string, string | undefined>;

/** `--server`, else `MAESTRO_API_URL`, else `MAESTRO_SERVER_URL`, else `http://localhost:3000`. */
export function serverUrl(flag: string | undefined, env: Env): string {
  const [url, from] =
    flag !== undefined
      ? [flag, '--server']
      : env.MAESTRO_API_URL
        ? [env.MAESTRO_API_URL, 'MAESTRO_API_URL']
        : env.MAESTRO_SERVER_URL
          ? [env.MAESTRO_SERVER_URL, 'MAESTRO_SERVER_URL']
          : ['http://localhost:3000', 'the default'];
  // `localhost:3000` parses as a URL of the scheme "localhost:": without this check, every request failed with
  // "unknown scheme. Is it running?" (exit 3), and `maestro host` crashed with a stack trace. (ws:// and wss://, which
  // the runner turns its URL into, are taken as they always were.)
  if (!URL.canParse(url) || !['http:', 'https:', 'ws:', 'wss:'].includes(new URL(url).protocol)) {
    const example = /^[\w.-]+:\d+(\/|$)/.test(url) ? `http://${url}` : 'http://localhost:3000';
    throw new CliError(`Invalid server URL "${url}" (from ${from}): give the address the server listens on, e.g. ${example}`);
  }
  return url.replace(/\/+$/, '');
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Where the CLI's token comes from (§15.6): `MAESTRO_TOKEN`, else a spawned terminal's `MAESTRO_SESSION_TOKEN`. */
export type TokenVariable = 'MAESTRO_TOKEN' | 'MAESTRO_SESSION_TOKEN';

/** The token the CLI sends, and the variable it came from (named when the server refuses it). */
export function cliToken(env: Env): { token?: string; variable?: TokenVariable } {
  if (env.MAESTRO_TOKEN) return { token: env.MAESTRO_TOKEN, variable: 'MAESTRO_TOKEN' };
  if (env.MAESTRO_SESSION_TOKEN) return { token: env.MAESTRO_SESSION_TOKEN, variable: 'MAESTRO_SESSION_TOKEN' };
  return {};
}

/** What to check after a 401: the variable the refused token came from, or the one to set. */
export function unauthorizedHint(variable: TokenVariable | undefined): string {
  switch (variable) {
    case 'MAESTRO_TOKEN':
      return 'check MAESTRO_TOKEN: the server does not accept it (it was restarted with another token, or the token was revoked)';
    case 'MAESTRO_SESSION_TOKEN':
      return "check MAESTRO_SESSION_TOKEN: this session's token no longer works (its session ended or was deleted); a person sets MAESTRO_TOKEN instead";
    default:
      return "the server needs a token: set MAESTRO_TOKEN to the server's token (or to one an administrator gave you)";
  }
}

/** A small REST client for Maestro Server: JSON in, JSON out, errors as CliError with the contract's code. */
export class Client {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
    /** Sent with every request, e.g. `X-Session-ID` from `$MAESTRO_SESSION_ID`: the calling session (§16.2). */
    private readonly headers: Record<string, string> = {},
    /** The variable `token` came from, named in the message of a 401. */
    private readonly tokenVariable?: TokenVariable,
  ) {}

  get = <T = any>(path: string) => this.request<T>('GET', path);
  post = <T = any>(path: string, body: unknown = {}) => this.request<T>('POST', path, body);
  patch = <T = any>(path: string, body: unknown) => this.request<T>('PATCH', path, body);
  put = <T = any>(path: string, body: unknown) => this.request<T>('PUT', path, body);
  delete = <T = any>(path: string, headers?: Record<string, string>) => this.request<T>('DELETE', path, undefined, headers);

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const url = this.baseUrl + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          ...this.headers,
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...(this.token && { authorization: `Bearer ${this.token}` }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new CliError(
        `Cannot reach Maestro Server at ${this.baseUrl} (${reason}). Is it running? Start it with: maestro serve`,
        EXIT.unreachable,
        'SERVER_UNREACHABLE',
        { url },
      );
    }
    const text = await res.text();
    let data: any;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(
        `${method} ${path}: the server at ${this.baseUrl} answered ${res.status} with something that is not JSON: ` +
          'is that the address of Maestro Server (--server, MAESTRO_API_URL)?',
        EXIT.error,
        'BAD_RESPONSE',
      );
    }
    if (!res.ok) {
      let message = typeof data?.message === 'string' ? data.message : `HTTP ${res.status}`;
      if (res.status === 401) message = `${message}: ${unauthorizedHint(this.tokenVariable)}`;
      // Every route this CLI calls exists on a server of its version: a URL with a path the server does not have
      // (`…/api`) is the likely cause. Not exit 2, which says the thing asked for does not exist.
      if (res.status === 404 && data?.code === 'NOT_FOUND' && message === 'Route not found') {
        const hint = `Check the server URL ${this.baseUrl}: it is the address the server listens on, without /api`;
        throw new CliError(`${message}: ${method} ${url}. ${hint} (or the server is older than this CLI)`, EXIT.error, data.code);
      }
      throw new CliError(message, res.status === 404 ? EXIT.notFound : EXIT.error, data?.code ?? `HTTP_${res.status}`, data?.details);
    }
    return data as T;
  }
}
