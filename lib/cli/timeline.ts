// `maestro session timeline`: a session's whole timeline, paged through its route (contract §24.9).
import type { TimelineEntry } from '../domain/types.js';
import { CliError } from './client.js';
import type { Ctx } from './context.js';

/** Entries shown without `--limit` or `--all`: as many as a session itself keeps (§24.9). */
export const TIMELINE_DEFAULT = 100;
/** The route's largest page. */
const PAGE_MAX = 500;

export interface TimelineOptions {
  limit?: string;
  all?: boolean;
  before?: string;
}

/**
 * The newest entries of a session's timeline (all of them with `--all`), oldest first, and the `before` that would
 * continue further back (null once the start is reached). Follows `next` page by page.
 */
export async function timelinePages(
  ctx: Ctx,
  sessionId: string,
  opts: TimelineOptions,
): Promise<{ entries: TimelineEntry[]; next: string | null }> {
  if (opts.limit !== undefined && !/^[1-9]\d*$/.test(opts.limit)) throw new CliError('--limit must be a positive integer');
  if (opts.all && opts.limit !== undefined) throw new CliError('--all and --limit do not go together');
  const wanted = opts.all ? Number.POSITIVE_INFINITY : Number(opts.limit ?? TIMELINE_DEFAULT);
  const newestFirst: TimelineEntry[] = [];
  let next: string | null = opts.before ?? null;
  let first = true;
  while (newestFirst.length < wanted && (first || next !== null)) {
    first = false;
    const q = new URLSearchParams({ limit: String(Math.min(PAGE_MAX, wanted - newestFirst.length)) });
    if (next !== null) q.set('before', next);
    const page = await ctx.client.get<{ entries: TimelineEntry[]; next: string | null }>(
      `/api/sessions/${encodeURIComponent(sessionId)}/timeline?${q}`,
    );
    newestFirst.push(...page.entries);
    next = page.entries.length ? page.next : null;
  }
  return { entries: newestFirst.reverse(), next };
}
