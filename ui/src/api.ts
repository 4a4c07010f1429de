/** REST client of the dashboard: JSON in and out, the bearer token when the server asks for one (contract §1.1, §19). */

const TOKEN_KEY = 'maestro-token';
let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let asking: Promise<string> | null = null;
let tokenListener: ((ask: { retry: boolean; answer: (t: string) => void }) => void) | null = null;

/** The dashboard's token dialog registers here; it is asked at most once at a time, and only after a 401. */
export function onTokenNeeded(listener: typeof tokenListener): void {
  tokenListener = listener;
}

function askToken(retry: boolean): Promise<string> {
  asking ??= new Promise<string>((resolve) => {
    if (!tokenListener) throw new Error('no token dialog');
    tokenListener({
      retry,
      answer: (t) => {
        token = t;
        sessionStorage.setItem(TOKEN_KEY, t);
        asking = null;
        resolve(t);
      },
    });
  });
  return asking;
}

/** The contract's error body, thrown for every non-2xx answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** `api('POST', '/api/tasks', body)` → the parsed JSON answer; a 401 asks for the token and tries again. */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401 && attempt < 5) {
      await askToken(token !== null);
      continue;
    }
    const text = await res.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw new ApiError(res.status, data?.code ?? `HTTP_${res.status}`, data?.message ?? res.statusText, data?.details);
    return data as T;
  }
}

/** A WebSocket URL on this origin. Browsers cannot set headers on a WebSocket, so the token rides in `?token=` (§1.1). */
export function socketUrl(path: string, query: Record<string, string | number | undefined> = {}): string {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  if (token) url.searchParams.set('token', token);
  return url.href;
}

/** True once a 401 has been answered with a token, so a socket refused before that can be retried with it. */
export const hasToken = () => token !== null;

/** Waits for the user's token after a socket was refused; the socket cannot tell a 401 apart, so ask only once. */
export async function ensureToken(): Promise<void> {
  if (!token) await askToken(false);
}
