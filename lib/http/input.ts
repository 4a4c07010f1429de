// Reading a request's input: its JSON body and query string, checked against a schema.
import type { Context } from 'hono';
import type * as v from 'valibot';
import { ApiError, validationError } from '../errors.js';
import { parseInput, parseJson } from '../parse.js';

// Routes take all their input helpers from here.
export { parseInput, parseJson };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The request body as an object: absent or empty counts as `{}`; anything but a JSON object is refused. */
export async function readBody(c: Context): Promise<Record<string, unknown>> {
  const bytes = await c.req.arrayBuffer();
  let body: unknown;
  try {
    // Fatal decoding: invalid UTF-8 is not JSON text (RFC 8259 §8.1), and would otherwise be stored as U+FFFD.
    const text = utf8.decode(bytes);
    if (text.trim() === '') return {};
    body = parseJson(text);
  } catch (error) {
    throw new ApiError(400, 'INVALID_JSON', `Request body is not valid JSON: ${(error as Error).message}`);
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
