import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { expectError } from './assertions.js';
import { listen, onDatabase, startTestServer, type TestServer, tempDir } from './helpers.js';

/** People and their tokens (contract §23): the admin rules, hashed storage, revocation of open streams, roles, actors. */

const ADMIN = 'admin-token-of-the-team';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function team(dataDir = tempDir()) {
  const server = await startTestServer({ MAESTRO_TOKEN: ADMIN, DATA_DIR: dataDir });
  const as =
    (token: string) =>
    (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      server.call(method, path, body, { ...bearer(token), ...headers });
  const mint = async (name: string, role: string) => {
    const res = await as(ADMIN)('POST', '/api/tokens', { name, role });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; name: string; role: string; createdAt: number; token: string };
  };
  return { server, as, mint, dataDir };
}

const wsUrl = (server: TestServer, path: string, token: string) => `${server.url.replace(/^http/, 'ws')}${path}?token=${token}`;

describe('tokens (§23)', () => {
  it('an admin creates, lists and revokes tokens; the secret is shown once and stored only as its hash', async () => {
    const { server, as, mint, dataDir } = await team();
    const admin = as(ADMIN);
    const events = await listen(wsUrl(server, '/ws', ADMIN));
    const alice = await mint('Alice', 'member');
    expect(alice).toEqual({
      id: expect.any(String),
      name: 'Alice',
      role: 'member',
      createdAt: expect.any(Number),
      lastUsedAt: null,
      token: expect.any(String),
    });

    const [created] = (await events.drain()).filter((e) => e.type === 'token:created');
    expect(created.data).toEqual({ id: alice.id, name: 'Alice', role: 'member', createdAt: alice.createdAt, lastUsedAt: null });
    expect(JSON.stringify(created)).not.toContain(alice.token);

    expect((await as(alice.token)('GET', '/api/projects')).status).toBe(200);
    const listed = await admin('GET', '/api/tokens');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      { id: alice.id, name: 'Alice', role: 'member', createdAt: alice.createdAt, lastUsedAt: expect.any(Number) },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(alice.token);

    if (!onDatabase()) {
      const files = readdirSync(join(dataDir, 'tokens'));
      expect(files).toEqual([`${alice.id}.json`]);
      const stored = readFileSync(join(dataDir, 'tokens', files[0]!), 'utf8');
      expect(stored).not.toContain(alice.token);
      expect(JSON.parse(stored).tokenHash).toMatch(/^[0-9a-f]{64}$/);
    }

    const revoked = await admin('DELETE', `/api/tokens/${alice.id}`);
    expect(revoked.status).toBe(204);
    expect((await events.drain()).filter((e) => e.type === 'token:deleted').map((e) => e.data)).toEqual([{ id: alice.id }]);
    expectError(await as(alice.token)('GET', '/api/projects'), 401, 'UNAUTHORIZED');
    expectError(await admin('DELETE', `/api/tokens/${alice.id}`), 404, 'TOKEN_NOT_FOUND');
    expect((await admin('GET', '/api/tokens')).body).toEqual([]);
  });

  it('only an admin manages tokens, and the input is checked', async () => {
    const { as, mint } = await team();
    const boss = await mint('Boss', 'admin');
    const member = await mint('Mia', 'member');
    const viewer = await mint('Vic', 'viewer');
    for (const token of [member.token, viewer.token]) {
      expectError(await as(token)('POST', '/api/tokens', { name: 'x', role: 'admin' }), 403, 'FORBIDDEN');
      expectError(await as(token)('GET', '/api/tokens'), 403, 'FORBIDDEN');
      expectError(await as(token)('DELETE', `/api/tokens/${boss.id}`), 403, 'FORBIDDEN');
    }
    // A person's admin token manages tokens like MAESTRO_TOKEN does.
    const made = await as(boss.token)('POST', '/api/tokens', { name: 'Zoe', role: 'viewer' });
    expect(made.status).toBe(201);
    expectError(await as(ADMIN)('POST', '/api/tokens', { name: '', role: 'member' }), 400, 'VALIDATION_ERROR');
    expectError(await as(ADMIN)('POST', '/api/tokens', { name: 'x'.repeat(101), role: 'member' }), 400, 'VALIDATION_ERROR');
    expectError(await as(ADMIN)('POST', '/api/tokens', { name: 'Ok', role: 'owner' }), 400, 'VALIDATION_ERROR');
    expectError(await as(ADMIN)('POST', '/api/tokens', { name: 'Ok' }), 400, 'VALIDATION_ERROR');
    expectError(await as('not-a-token')('GET', '/api/projects'), 401, 'UNAUTHORIZED');
  });

  it('tokens survive a restart; a revoked one stays revoked', async () => {
    const first = await team();
    const kept = await first.mint('Kept', 'viewer');
    const gone = await first.mint('Gone', 'member');
    await first.as(ADMIN)('DELETE', `/api/tokens/${gone.id}`);
    await first.server.close();
    const second = await team(first.dataDir);
    expect((await second.as(kept.token)('GET', '/api/tasks')).status).toBe(200);
    expectError(await second.as(gone.token)('GET', '/api/tasks'), 401, 'UNAUTHORIZED');
    expect((await second.as(ADMIN)('GET', '/api/tokens')).body.map((t: { name: string }) => t.name)).toEqual(['Kept']);
  });

  it('revoking a token closes its open WebSocket and SSE stream at once', async () => {
    const { server, as, mint } = await team();
    const bob = await mint('Bob', 'viewer');
    const other = await mint('Other', 'viewer');
    const socket = await listen(wsUrl(server, '/ws', bob.token));
    const untouched = await listen(wsUrl(server, '/ws', other.token));
    const closed = new Promise<number>((resolve) => socket.ws.once('close', (code) => resolve(code)));

    const sse = await fetch(`${server.url}/api/events/stream`, { headers: bearer(bob.token) });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    const ended = (async () => {
      for (;;) {
        const { done } = await reader.read().catch(() => ({ done: true }));
        if (done) return true;
      }
    })();

    expect((await as(ADMIN)('DELETE', `/api/tokens/${bob.id}`)).status).toBe(204);
    expect(await closed).toBe(1008);
    expect(await ended).toBe(true);
    // The other person's socket is still open and hears the revocation.
    expect(untouched.ws.readyState).toBe(WebSocket.OPEN);
    expect((await untouched.drain()).map((e) => e.type)).toContain('token:deleted');
    // And the revoked token cannot open a new one.
    await expect(listen(wsUrl(server, '/ws', bob.token))).rejects.toMatchObject({ statusCode: 401 });
  });
});
