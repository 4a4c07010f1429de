import { expect } from 'vitest';

type Headers_ = Headers | Record<string, string | string[] | undefined>;

/**
 * Asserts the contract's error body (§1.4): a JSON answer with exactly `error`, `code`, `message` and an optional
 * non-empty `details`; a VALIDATION_ERROR lists its issues as `{ path, message }`.
 */
export function expectError(
  res: { status: number; body: any; headers: Headers_ },
  status: number,
  code: string,
  message?: string | RegExp,
) {
  const type = res.headers instanceof Headers ? res.headers.get('content-type') : res.headers['content-type'];
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(type).toMatch(/^application\/json/);
  expect(
    Object.keys(res.body)
      .filter((k) => k !== 'details')
      .sort(),
  ).toEqual(['code', 'error', 'message']);
  expect(res.body.error).toBe(true);
  expect(res.body.code).toBe(code);
  expect(res.body.message).toEqual(expect.any(String));
  if (typeof message === 'string') expect(res.body.message).toBe(message);
  else if (message) expect(res.body.message).toMatch(message);
  if ('details' in res.body) expect(Object.keys(res.body.details).length).toBeGreaterThan(0);
  if (code === 'VALIDATION_ERROR') {
    expect(res.body.details.issues.length).toBeGreaterThan(0);
    for (const issue of res.body.details.issues) expect(issue).toEqual({ path: expect.any(String), message: expect.any(String) });
  }
}

/** The paths of a validation error's issues. */
export const issuePaths = (res: { body: any }): string[] => res.body.details.issues.map((i: { path: string }) => i.path);

/** Waits until the clock has moved on, so that a later write gets a strictly later timestamp. */
export async function tick() {
  const start = Date.now();
  while (Date.now() === start) await new Promise((r) => setTimeout(r, 1));
}
