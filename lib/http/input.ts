// Reading a request's input: its JSON body and query string, checked against a schema.
import type { Context } from 'hono';
import type * as v from 'valibot';
import { ApiError, validationError } from '../errors.js';
import { parseInput, parseJson } from '../parse.js';

// Routes take all their input helpers from here.
export { parseInput, parseJson };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deeper than any request needs; past it the key-dropping reviver (which recurses) would overflow the stack. */
export const MAX_BODY_DEPTH = 64;

/** Whether JSON text opens more than `limit` arrays and objects inside one another (brackets in strings skipped). */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      // A backslash escapes the next character, a quote included.
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > limit) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

/**
 * The request body as an object: absent or empty counts as `{}`; anything but a JSON object is refused. Text that is
 * not JSON is `INVALID_JSON`; JSON nested deeper than `MAX_BODY_DEPTH` is JSON all the same, so `VALIDATION_ERROR` (§24.3).
 */
export async function readBody(c: Context): Promise<Record<string, unknown>> {
  const bytes = await c.req.arrayBuffer();
  let body: unknown;
  let tooDeep = false;
  try {
    // Fatal decoding: invalid UTF-8 is not JSON text (RFC 8259 §8.1), and would otherwise be stored as U+FFFD.
    const text = utf8.decode(bytes);
    if (text.trim() === '') return {};
    tooDeep = nestedDeeperThan(text, MAX_BODY_DEPTH);
    // Without a reviver JSON.parse does not recurse, so it tells valid from invalid text at any depth.
    body = tooDeep ? JSON.parse(text) : parseJson(text);
  } catch (error) {
    throw new ApiError(400, 'INVALID_JSON', `Request body is not valid JSON: ${(error as Error).message}`);
  }
  if (tooDeep) {
    const message = `Request body is nested deeper than ${MAX_BODY_DEPTH} levels`;
    throw validationError(message, { issues: [{ path: '', message }] });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw validationError('Request body must be a JSON object', { issues: [{ path: '', message: 'Expected an object' }] });
  }
  return body as Record<string, unknown>;
}

/** Validates the JSON body of a request. */
export const body = async <S extends v.GenericSchema>(c: Context, schema: S) => parseInput(schema, await readBody(c));

/** Validates the query string of a request (each parameter taken once). */
export const query = <S extends v.GenericSchema>(c: Context, schema: S) => parseInput(schema, c.req.query());
