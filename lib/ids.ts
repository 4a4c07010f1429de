// IDs: the pattern every ID must match (§1.1) and new IDs.
import { randomBytes } from 'node:crypto';

/** Every path ID and client-supplied ID must match this (contract §1.1). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export const isId = (value: unknown): value is string => typeof value === 'string' && ID_PATTERN.test(value);

export type IdPrefix = 'proj' | 'task' | 'sess' | 'evt' | 'tmpl' | 'msg' | 'tok';

/** Nine base-36 digits, of which a random start uses the lower half (what follows it in the same millisecond fits). */
const RAND_SPAN = 36n ** 9n / 2n;
let last = { ms: Number.NaN, rand: 0n };

/**
 * `<prefix>_<ms>_<rand>` with 9 random base-36 characters (contract §1.3). Within one millisecond the IDs made here
 * count up from a random start, so that ordering by ID keeps their creation order: a paged list's tie-break (§3.8)
 * then matches the order the items were created in.
 */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  const rand = now === last.ms ? last.rand + 1n : randomBytes(8).readBigUInt64BE() % RAND_SPAN;
  last = { ms: now, rand };
  return `${prefix}_${now}_${rand.toString(36).padStart(9, '0')}`;
}
