// GET answers kept serialised with their ETag until the next change.
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import type { Db } from '../storage/db.js';

/** A GET answer kept ready to send: the serialised body, its ETag and headers. */
interface Ready {
  body: Buffer;
  headers: Record<string, string>;
}

/** What a cached GET serves: the JSON value, and the next page's cursor when it is one page of a list. */
export interface Answer {
  value: unknown;
  nextCursor?: string;
}

const MAX_ENTRIES = 512;
const MAX_BYTES = 64 * 1024 * 1024;

/** Responses that carry their own ETag and need no hashing on the way out (the `/api/*` middleware of app.ts). */
const prepared = new WeakSet<object>();

/**
 * Serialised GET answers, one per URL, dropped whenever any entity changes. A read between two changes costs a
 * map lookup: no copy of the served views, no `JSON.stringify`, no hashing, and node-server writes the ready
 * Buffer straight to the socket. Every entry is dropped on every change, because a served view can depend on
 * other entities (a task's derived fields depend on other tasks), so "current state" needs no dependency tracking.
 */
export class ReadCache {
  readonly #entries = new Map<string, Ready>();
  #bytes = 0;

  constructor(db: Db) {
    db.onApply(() => this.clear());
  }

  clear(): void {
    if (this.#entries.size === 0) return;
    this.#entries.clear();
    this.#bytes = 0;
  }

  /**
   * Answers `c` from the cache, building (and keeping) the answer first if the state changed since. `variant` keeps
   * apart answers to one URL that differ by caller (a session token's list is narrowed to its project).
   */
  respond(c: Context, build: () => Answer, variant = ''): Response {
    const key = variant ? `${variant} ${c.req.url}` : c.req.url;
    let ready = this.#entries.get(key);
    if (!ready) {
      ready = prepare(build());
      if (this.#entries.size >= MAX_ENTRIES || this.#bytes + ready.body.length > MAX_BYTES) this.clear();
      this.#entries.set(key, ready);
      this.#bytes += ready.body.length;
    }
    return answer(c, ready);
  }
}

/** A GET's JSON answer with its ETag, hashed as it is built (not kept): `c.json` of a GET under `/api/` (app.ts). */
export const tagged = (c: Context, value: unknown): Response => answer(c, prepare({ value }));

/** 304 when the client holds this version, else the body; marked as needing no other ETag handling. */
function answer(c: Context, ready: Ready): Response {
  const response = ifNoneMatch(c.req.header('if-none-match'), ready.headers.ETag!)
    ? c.body(null, 304, { ETag: ready.headers.ETag! })
    : c.body(ready.body as unknown as ArrayBuffer, 200, ready.headers);
  prepared.add(response);
  return response;
}

/**
 * The JSON of each list element, by object. Entities are never changed in place (a change replaces the object), so
 * a list rebuilt after one change re-serialises only what changed: 1,000 sessions of which one reported progress
 * cost one `JSON.stringify` of a session, not 1,000.
 */
const elementJson = new WeakMap<object, string>();

function serialise(value: unknown): string {
  if (!Array.isArray(value)) return JSON.stringify(value);
  const parts = value.map((item) => {
    if (typeof item !== 'object' || item === null) return JSON.stringify(item) ?? 'null';
    let json = elementJson.get(item);
    if (json === undefined) elementJson.set(item, (json = JSON.stringify(item) ?? 'null'));
    return json;
  });
  return `[${parts.join(',')}]`;
}

function prepare({ value, nextCursor }: Answer): Ready {
  const body = Buffer.from(serialise(value));
  // A page's answer also changes when its next cursor does (§3.8), so the cursor is part of the tag.
  const hash = createHash('sha1').update(body);
  if (nextCursor !== undefined) hash.update(`\n${nextCursor}`);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ETag: `"${hash.digest('hex')}"` };
  if (nextCursor !== undefined) headers['X-Next-Cursor'] = nextCursor;
  return { body, headers };
}

/** RFC 9110 §13.1.2: weak comparison against each listed tag, or `*`. */
function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/** True for a response built by `ReadCache.respond`, which has its ETag and 304 handling already. */
export const isPrepared = (response: Response): boolean => prepared.has(response);
