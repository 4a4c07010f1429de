// Parsing untrusted input, shared by every layer: JSON without prototype keys, and schema checks as VALIDATION_ERROR.
import * as v from 'valibot';
import { validationError } from './errors.js';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** JSON.parse that drops `__proto__`, `constructor` and `prototype` keys at every depth (contract §1.1). */
export const parseJson = (text: string): unknown => JSON.parse(text, (key, value) => (FORBIDDEN_KEYS.has(key) ? undefined : value));

/** Validates input against a schema; the first issue's message is the error's message, all issues are in details. */
export function parseInput<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const issues = result.issues.map((issue) => ({
    path: issue.path?.map((p) => String(p.key)).join('.') ?? '',
    message: issue.message,
  }));
  throw validationError(issues[0]?.message ?? 'Invalid input', { issues });
}
