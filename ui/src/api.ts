/** REST client of the dashboard: JSON in and out, the bearer token when the server asks for one (contract §1.1, §19). */

const TOKEN_KEY = 'maestro-token';
let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let asking: Promise<string> | null = null;
/** Set when a token was refused and forgotten, so the dialog can say so. */
let refused = false;

/** What the token dialog is told: whether a token was just refused, and how to answer or decline. */
export interface TokenRequest {
  retry: boolean;
  answer: (t: string) => void;
  cancel: () => void;
}
let tokenListener: ((ask: TokenRequest) => void) | null = null;

/** The dashboard's token dialog registers here; it is asked at most once at a time, and only after a 401. */
export function onTokenNeeded(listener: typeof tokenListener): void {
  tokenListener = listener;
}

/** A stored token the server refused is dropped: the server may have restarted without one, or with another. */
function forgetToken(): void {
  token = null;
  refused = true;
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Set when the user closed the token dialog: requests then fail at once instead of asking again and again. */
let declined = false;
const declinedError = () => new ApiError(401, 'UNAUTHORIZED', 'This server needs its access token (MAESTRO_TOKEN)');

/** Lets the next 401 open the token dialog again (the user asked for it). */
export function askTokenAgain(): void {
  declined = false;
}

function askToken(): Promise<string> {
  if (declined) return Promise.reject(declinedError());
  asking ??= new Promise<string>((resolve, reject) => {
    if (!tokenListener) throw new Error('no token dialog');
    tokenListener({
      retry: refused,
      answer: (t) => {
        token = t;
        refused = false;
        sessionStorage.setItem(TOKEN_KEY, t);
        asking = null;
        resolve(t);
      },
      cancel: () => {
        asking = null;
        declined = true;
        reject(declinedError());
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

/**
 * `api('POST', '/api/tasks', body)` → the parsed JSON answer. A 401 to a stored token forgets it and tries without;
 * only a 401 without a token asks the user (and a declined dialog rejects with that 401).
 */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const sent = token;
    const headers: Record<string, string> = {};
    if (sent) headers.authorization = `Bearer ${sent}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401 && attempt < 5) {
      if (sent !== null) {
        if (token === sent) forgetToken();
        continue;
      }
      // Another request may have got a token while this one was under way.
      if (token === null) await askToken();
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
