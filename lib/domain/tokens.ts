// Session and runner tokens: minted, hashed, checked and revoked (§15.6).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Db, Tx } from '../storage/db.js';
import { FINAL_SESSION_STATUSES, type Session, type SessionSecret } from './types.js';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const HASH_HEX = /^[0-9a-f]{64}$/;

/**
 * Whether `secret` hashes to `storedHash`, compared in constant time. Both sides are 32-byte SHA-256 digests, so
 * neither the secret's length nor the position of a first difference shows in the timing.
 */
export function matchesHash(secret: string, storedHash: string): boolean {
  if (!HASH_HEX.test(storedHash)) return false;
  return timingSafeEqual(createHash('sha256').update(secret).digest(), Buffer.from(storedHash, 'hex'));
}

/** Whether a presented secret is `expected` (the admin token), in constant time over fixed-length digests. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The secrets file of a host's runner token: a key no session ID can take (session IDs start `sess_`). */
const runnerSecretId = (host: string) => `runner_${createHash('sha256').update(host).digest('hex').slice(0, 32)}`;

/**
 * Session tokens (contract §15.6): minted at spawn, stored only as their SHA-256 in `DATA_DIR/secrets/<sessionId>.json`,
 * valid while the session is not final, removed once it ends or is deleted. Runner tokens: minted by an admin for
 * one host name, stored the same way (with `host`), valid until replaced.
 */
export class TokenStore {
  /*
   * Tokens are found by their hash, never by the secret: a map lookup's timing can depend on its key, but the key
   * is a SHA-256 of the secret, which an attacker cannot steer byte by byte. The record found is then checked
   * again with `matchesHash` (constant time), so the final yes or no is not a string comparison of secrets.
   */
  /** hash → sessionId, derived from the stored secrets. */
  readonly #byHash = new Map<string, string>();
  /** hash → host name, for runner tokens. */
  readonly #hostByHash = new Map<string, string>();
  /** session ID → how to close each open stream (WebSocket, SSE) its token authenticated. */
  readonly #connections = new Map<string, Set<() => void>>();

  constructor(
    private readonly db: Db,
    log: Logger,
  ) {
    for (const secret of db.all('secrets')) this.#index(secret);
    db.onApply((kind, before, after) => {
      if (kind === 'secrets') {
        const [b, a] = [before as SessionSecret | undefined, after as SessionSecret | null];
        if (b) this.#byHash.delete(b.tokenHash);
        if (b) this.#hostByHash.delete(b.tokenHash);
        if (a) this.#index(a);
        // The token stopped working (its session ended or was deleted, or a new token replaced it): so do the
        // streams it opened, or an agent a person stopped would go on hearing its project's events.
        if (b && !b.host && a?.tokenHash !== b.tokenHash) {
          const closers = this.#connections.get(b.sessionId);
          this.#connections.delete(b.sessionId);
          for (const close of closers ?? []) close();
        }
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

  #index(secret: SessionSecret) {
    if (secret.host) this.#hostByHash.set(secret.tokenHash, secret.host);
    else this.#byHash.set(secret.tokenHash, secret.sessionId);
  }

  /** A new runner token for `host` (§15.2, issue 21), replacing the host's earlier one. */
  mintRunner(tx: Tx, host: string): string {
    const token = `mrt_${randomBytes(24).toString('base64url')}`;
    tx.put('secrets', { sessionId: runnerSecretId(host), host, tokenHash: hashToken(token), createdAt: tx.now });
    return token;
  }

  /** The host name a runner token may connect as; undefined for any other string. */
  hostOf(token: string): string | undefined {
    const host = this.#hostByHash.get(hashToken(token));
    if (host === undefined) return undefined;
    const secret = this.db.get('secrets', runnerSecretId(host));
    return secret?.host === host && matchesHash(token, secret.tokenHash) ? host : undefined;
  }

  /** A new token for `sessionId`, replacing any earlier one; only its hash is written. */
  mint(tx: Tx, sessionId: string): string {
    const token = `mst_${randomBytes(24).toString('base64url')}`;
    tx.put('secrets', { sessionId, tokenHash: hashToken(token), createdAt: tx.now });
    return token;
  }

  /** Remembers how to close a stream opened with the token of `sessionId`; returns the function that forgets it. */
  track(sessionId: string, close: () => void): () => void {
    let set = this.#connections.get(sessionId);
    if (!set) this.#connections.set(sessionId, (set = new Set()));
    set.add(close);
    return () => void set.delete(close);
  }

  /** The live session a token belongs to: undefined for an unknown token, null for one whose session ended. */
  sessionOf(token: string): string | null | undefined {
    const sessionId = this.#byHash.get(hashToken(token));
    if (!sessionId) return undefined;
    const secret = this.db.get('secrets', sessionId);
    if (!secret || !matchesHash(token, secret.tokenHash)) return undefined;
    const session = this.db.get('sessions', sessionId);
    return session && !FINAL_SESSION_STATUSES.includes(session.status) ? sessionId : null;
  }
}
