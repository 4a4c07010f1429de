// The session a request acts for, if any (§15.6, §16.2).
import { ApiError } from '../errors.js';
import { isId } from '../ids.js';
import { callerOf } from './access.js';
import type { Ctx } from './context.js';
import { hasRole } from './roles.js';

/**
 * The session making a request, or null for a person (contract §15.6, §16.2): the session of a presented session
 * token (set on the context by the auth middleware), else the `X-Session-ID` header. A header naming another
 * session than the token's is refused. A viewer's header is not taken (§23: a viewer only reads): its read of a
 * session's inbox would otherwise take delivery, a change no viewer may make.
 */
export function callerSession(c: Ctx): string | null {
  const header = c.req.header('x-session-id')?.trim() || undefined;
  const tokenSession = c.get('tokenSession');
  if (tokenSession) {
    if (header !== undefined && header !== tokenSession) {
      throw new ApiError(403, 'FORBIDDEN', 'X-Session-ID names another session than the session token', { sessionId: header });
    }
    return tokenSession;
  }
  if (header === undefined || !hasRole(callerOf(c), 'member')) return null;
  if (!isId(header)) {
    throw new ApiError(400, 'VALIDATION_ERROR', 'X-Session-ID is not a valid ID', {
      issues: [{ path: 'X-Session-ID', message: 'Invalid ID' }],
    });
  }
  return header;
}
