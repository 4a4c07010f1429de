import { randomBytes } from 'node:crypto';

/** Every path ID and client-supplied ID must match this (contract §1.1). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export const isId = (value: unknown): value is string => typeof value === 'string' && ID_PATTERN.test(value);

export type IdPrefix = 'proj' | 'task' | 'sess' | 'evt' | 'tmpl' | 'msg' | 'tok';

/** `<prefix>_<ms>_<rand>` with up to 9 random base-36 characters (contract §1.3). */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  const rand = randomBytes(8).readBigUInt64BE().toString(36).slice(0, 9);
  return `${prefix}_${now}_${rand}`;
}
