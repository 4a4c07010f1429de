// A refused WebSocket upgrade (401, 403, 404…) read as the contract's error (§1.1): for the CLI and the runner.
import type { IncomingMessage } from 'node:http';

export class StreamRefused extends Error {
  override name = 'StreamRefused';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The contract's error body of a refused upgrade, read as far as it parses. */
export function refusal(res: IncomingMessage): Promise<StreamRefused> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => void (text.length < 4096 && (text += chunk)));
    const settle = () => {
      let body: { code?: unknown; message?: unknown } = {};
      try {
        body = JSON.parse(text);
      } catch {
        // not the contract's body: the status alone says it
      }
      const status = res.statusCode ?? 0;
      const code =
        typeof body.code === 'string' ? body.code : status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : `HTTP_${status}`;
      // A refused upgrade usually comes without a body: the status says it in the contract's words.
      const fallback = status === 401 ? 'Missing or invalid bearer token' : status === 403 ? 'Forbidden' : `HTTP ${status}`;
      resolve(new StreamRefused(status, code, typeof body.message === 'string' ? body.message : fallback));
    };
    res.on('end', settle);
    res.on('error', settle);
  });
}
