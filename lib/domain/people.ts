// People's tokens (contract §23): minted by an admin, stored as SHA-256 only, revoked at once with their connections.
import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import { newId } from '../ids.js';
import type { Db } from '../storage/db.js';
import { hashToken, matchesHash } from './tokens.js';
import type { AccessRole, PersonToken, TokenView } from './types.js';

export type { TokenView };

export const tokenView = ({ tokenHash: _hash, ...view }: PersonToken): TokenView => view;

const tokenNotFound = (id: string) => new ApiError(404, 'TOKEN_NOT_FOUND', 'Token not found', { id });

/** `lastUsedAt` is written at most this often per token: a write per request would cost a commit per read. */
const TOUCH_EVERY_MS = 60_000;

export class PeopleStore {
  /** hash → token ID, derived from the stored tokens. */
  readonly #byHash = new Map<string, string>();
  /** token ID → how to close each open connection (WebSocket, SSE stream) it authenticated. */
  readonly #connections = new Map<string, Set<() => void>>();

  constructor(private readonly db: Db) {
    for (const token of db.all('tokens')) this.#byHash.set(token.tokenHash, token.id);
    db.onApply((kind, before, after) => {
      if (kind !== 'tokens') return;
      const [b, a] = [before as PersonToken | undefined, after as PersonToken | null];
      if (b && !a) {
        this.#byHash.delete(b.tokenHash);
        // Revoked: its open streams end now, not at their next reconnect.
        const closers = this.#connections.get(b.id);
        this.#connections.delete(b.id);
        for (const close of closers ?? []) close();
      }
      if (a) this.#byHash.set(a.tokenHash, a.id);
    });
  }

  /** `POST /api/tokens`: the secret is in this answer only. */
  create(name: string, role: AccessRole) {
    const token = `mpt_${randomBytes(24).toString('base64url')}`;
    return this.db.mutate((tx) => {
      const record: PersonToken = {
        id: newId('tok', tx.now),
        name,
        role,
        createdAt: tx.now,
        lastUsedAt: null,
        tokenHash: hashToken(token),
      };
      tx.put('tokens', record);
      tx.emit('token:created', tokenView(record));
      return { ...tokenView(record), token };
    });
  }

  list(): TokenView[] {
    return [...this.db.all('tokens')].sort((a, b) => a.createdAt - b.createdAt).map(tokenView);
  }

  /** `DELETE /api/tokens/:id`: the token stops working once this resolves, and its open connections are closed. */
  revoke(id: string) {
    return this.db.mutate((tx) => {
      if (!tx.get('tokens', id)) throw tokenNotFound(id);
      tx.remove('tokens', id);
      tx.emit('token:deleted', { id });
    });
  }

  /**
   * The person a secret belongs to, or undefined. Found by the secret's SHA-256 (a lookup key an attacker cannot
   * steer), then confirmed in constant time against the stored hash.
   */
  authenticate(secret: string): PersonToken | undefined {
    const id = this.#byHash.get(hashToken(secret));
    const token = id === undefined ? undefined : this.db.get('tokens', id);
    return token && matchesHash(secret, token.tokenHash) ? token : undefined;
  }

  /** Notes that `token` was used (§23 `lastUsedAt`): at most once a minute, so reads do not each cost a commit. */
  async touch(token: PersonToken): Promise<void> {
    if (token.lastUsedAt !== null && this.db.now() - token.lastUsedAt < TOUCH_EVERY_MS) return;
    await this.db.mutate((tx) => {
      const current = tx.get('tokens', token.id);
      if (current) tx.put('tokens', { ...current, lastUsedAt: tx.now });
    });
  }

  /** Remembers how to close a connection of `tokenId`; returns the function that forgets it (when it closes). */
  track(tokenId: string, close: () => void): () => void {
    let set = this.#connections.get(tokenId);
    if (!set) this.#connections.set(tokenId, (set = new Set()));
    set.add(close);
    return () => void set.delete(close);
  }
}
