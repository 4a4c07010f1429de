// The request body size limit (§1.1), answered so that a client still sending reads its 413 (§24.2).
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * How much of a refused body is read and thrown away before answering. Closing a connection on unread data resets
 * it, and a client still writing then loses the answer (`EPIPE`); past this bound the server stops paying for that.
 */
export const MAX_DISCARDED_BYTES = 16 * 1024 * 1024;

const tooLarge = () => new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Request body is larger than 1 MiB', { limit: MAX_BODY_BYTES });

/** The body's chunks one by one, and a way to stop reading early. */
interface BodySource {
  chunks: AsyncIterator<Uint8Array>;
  cancel(): void;
}

/**
 * Under Node the body is read straight from the `IncomingMessage`: asking hono for `c.req.raw.body` would build a
 * web `Request` with its streams and abort signal for every write, a tenth of a write's CPU (bench/scenarios/writes).
 * Elsewhere (`app.request` in tests) from the web stream.
 */
function sourceOf(c: Context): BodySource | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) return { chunks: incoming[Symbol.asyncIterator](), cancel: () => incoming.destroy() };
  const stream = c.req.raw.body;
  if (!stream) return undefined;
  const reader = stream.getReader();
  return {
    chunks: { next: () => reader.read() as Promise<IteratorResult<Uint8Array>> },
    cancel: () => void reader.cancel().catch(() => {}),
  };
}

/**
 * Refuses bodies over `MAX_BODY_BYTES` with 413; a body within the limit is read once and kept where hono's body
 * readers (`c.req.arrayBuffer()`, `c.req.json()`) find it.
 */
export const bodyLimit: MiddlewareHandler = async (c, next) => {
  const declared = c.req.header('transfer-encoding') === undefined ? c.req.header('content-length') : undefined;
  if (declared === '0') return next();
  const source = sourceOf(c);
  if (!source) return next();
  if (declared != null && Number(declared) > MAX_BODY_BYTES) {
    await discard(c, source, 0, Number(declared) > MAX_DISCARDED_BYTES);
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await source.chunks.next();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await discard(c, source, size, false);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = Buffer.concat(chunks, size);
  const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + size) as ArrayBuffer;
  // hono keeps the promise of each body reading there (its type says otherwise).
  (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(arrayBuffer);
  return next();
};

/**
 * Reads the rest of a refused body and drops it, up to `MAX_DISCARDED_BYTES`. A body read to its end leaves the
 * connection fit for the next request; one cut short cannot carry another, so the answer says `Connection: close`.
 */
async function discard(c: Context, source: BodySource, read: number, giveUp: boolean) {
  let size = read;
  try {
    while (!giveUp) {
      const { done, value } = await source.chunks.next();
      if (done) return;
      size += value.length;
      giveUp = size > MAX_DISCARDED_BYTES;
    }
  } catch {
    // The client went away: nothing left to answer on.
  }
  c.header('Connection', 'close');
  source.cancel();
}
