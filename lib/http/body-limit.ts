// The request body size limit (§1.1), answered so that a client still sending reads its 413 (§24.2).
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * How much of a refused body is read and thrown away before answering. Closing a connection on unread data resets
 * it, and a client still writing then loses the answer (`EPIPE`); past this bound the server stops paying for that.
 */
export const MAX_DISCARDED_BYTES = 16 * 1024 * 1024;

const tooLarge = () => new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Request body is larger than 1 MiB', { limit: MAX_BODY_BYTES });

/** Refuses bodies over `MAX_BODY_BYTES` with 413; a body within the limit is read once and handed on. */
export const bodyLimit: MiddlewareHandler = async (c, next) => {
  const stream = c.req.raw.body;
  if (!stream) return next();
  const declared = c.req.raw.headers.has('transfer-encoding') ? undefined : c.req.raw.headers.get('content-length');
  if (declared != null && Number(declared) > MAX_BODY_BYTES) {
    await discard(c, stream.getReader(), 0, Number(declared) > MAX_DISCARDED_BYTES);
    throw tooLarge();
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await discard(c, reader, size, false);
      throw tooLarge();
    }
    chunks.push(value);
  }
  c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks, size) });
  return next();
};

/**
 * Reads the rest of a refused body and drops it, up to `MAX_DISCARDED_BYTES`. A body read to its end leaves the
 * connection fit for the next request; one cut short cannot carry another, so the answer says `Connection: close`.
 */
async function discard(c: Context, reader: ReadableStreamDefaultReader<Uint8Array>, read: number, giveUp: boolean) {
  let size = read;
  try {
    while (!giveUp) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.length;
      giveUp = size > MAX_DISCARDED_BYTES;
    }
  } catch {
    // The client went away: nothing left to answer on.
  }
  c.header('Connection', 'close');
  void reader.cancel().catch(() => {});
}
