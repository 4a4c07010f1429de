// Paging of lists: `limit`, `cursor` and the `X-Next-Cursor` header (§3.8).
import { validationError } from '../errors.js';
import { scopeOf } from './access.js';
import type { Ctx } from './app.js';

/** One page of a list, and the cursor of the next page if there is one (contract §3.8). */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/**
 * Pages `items`, in the stable order of (`orderKey`, id), after the item named by `cursor`, `limit` at a time.
 * The cursor is the opaque form of the last item's ID; an item deleted since still positions by its order key.
 */
export function paginate<T extends { id: string }>(
  items: T[],
  opts: { limit?: number; cursor?: string },
  orderKey: (item: T) => number,
): Page<T> {
  if (opts.limit === undefined) return { items };
  items = [...items].sort((a, b) => orderKey(a) - orderKey(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let start = 0;
  if (opts.cursor !== undefined) {
    const after = decodeCursor(opts.cursor);
    const index = items.findIndex((item) => {
      const key = orderKey(item);
      return key > after.order || (key === after.order && item.id > after.id);
    });
    start = index === -1 ? items.length : index;
  }
  const page = items.slice(start, start + opts.limit);
  const last = page.at(-1);
  return start + opts.limit < items.length && last ? { items: page, nextCursor: encodeCursor(orderKey(last), last.id) } : { items: page };
}

const encodeCursor = (order: number, id: string) => Buffer.from(JSON.stringify([order, id])).toString('base64url');

function decodeCursor(cursor: string): { order: number; id: string } {
  try {
    const [order, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof order === 'number' && typeof id === 'string') return { order, id };
  } catch {
    // fall through
  }
  throw validationError('cursor is not a cursor this server handed out', { issues: [{ path: 'cursor', message: 'Invalid cursor' }] });
}

/**
 * Answers a list endpoint from the read cache: the whole array, or one page with `X-Next-Cursor` when `limit` is
 * given. `items` runs only when the state changed since the last answer to the same URL.
 */
export function listResponse<T extends { id: string }>(
  c: Ctx,
  items: () => T[],
  opts: { limit?: number; cursor?: string },
  orderKey: (item: T) => number,
): Response {
  return c.var.services.reads.respond(
    c,
    () => {
      const page = paginate(items(), opts, orderKey);
      return { value: page.items, nextCursor: page.nextCursor };
    },
    scopeOf(c) ?? '',
  );
}
