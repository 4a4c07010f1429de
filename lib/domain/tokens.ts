import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Db, Tx } from '../storage/db.js';
import { FINAL_SESSION_STATUSES, type Session } from './types.js';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Session tokens (contract §15.6): minted at spawn, stored only as their SHA-256 in `DATA_DIR/secrets/<sessionId>.json`,
 * valid while the session is not final, removed once it ends or is deleted.
 */
export class TokenStore {
  /** hash → sessionId, derived from the stored secrets. */
  readonly #byHash = new Map<string, string>();

  constructor(
    private readonly db: Db,
    log: Logger,
  ) {
    for (const secret of db.all('secrets')) this.#byHash.set(secret.tokenHash, secret.sessionId);
    db.onApply((kind, before, after) => {
      if (kind === 'secrets') {
        const [b, a] = [before as { tokenHash: string } | undefined, after as { tokenHash: string; sessionId: string } | null];
        if (b) this.#byHash.delete(b.tokenHash);
        if (a) this.#byHash.set(a.tokenHash, a.sessionId);
      } else if (kind === 'sessions') {
        const session = after as Session | null;
        const id = (before as Session | undefined)?.id ?? session?.id;
        const ended = !session || FINAL_SESSION_STATUSES.includes(session.status);
        if (id && ended && db.get('secrets', id)) {
          db.mutate((tx) => {
            const current = tx.get('sessions', id);
            if (tx.get('secrets', id) && (!current || FINAL_SESSION_STATUSES.includes(current.status))) tx.remove('secrets', id);
          }).catch((error) => log.error(`Revoking the token of ${id} failed`, error));
        }
      }
    });
  }

  /** A new token for `sessionId`, replacing any earlier one; only its hash is written. */
  mint(tx: Tx, sessionId: string): string {
    const token = `mst_${randomBytes(24).toString('base64url')}`;
    tx.put('secrets', { sessionId, tokenHash: hashToken(token), createdAt: tx.now });
    return token;
  }

  /** The live session a token belongs to: undefined for an unknown token, null for one whose session ended. */
  sessionOf(token: string): string | null | undefined {
    const sessionId = this.#byHash.get(hashToken(token));
    if (!sessionId) return undefined;
    const session = this.db.get('sessions', sessionId);
    return session && !FINAL_SESSION_STATUSES.includes(session.status) ? sessionId : null;
  }
}
