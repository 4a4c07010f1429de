// Adds `Retry-After` to a 429 refusal (§16.2).
import { ApiError } from '../errors.js';
import type { Ctx } from './app.js';

/** Awaits `result`; a 429 `RATE_LIMITED` refusal also gets its `Retry-After` header, in whole seconds (§16.2). */
export async function withRetryAfter<T>(c: Ctx, result: Promise<T>): Promise<T> {
  try {
    return await result;
  } catch (error) {
    if (error instanceof ApiError && error.code === 'RATE_LIMITED') {
      c.header('Retry-After', String(Math.ceil(Number(error.details?.retryAfterMs ?? 1000) / 1000)));
    }
    throw error;
  }
}
