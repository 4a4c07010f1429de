import { describe, expect, it } from 'vitest';
import { run } from '../lib/cli/program.js';
import { cliBaseEnv, startTestServer } from './helpers.js';

/** `maestro token create|list|revoke` (contract §23) in-process against a real server with an admin token. */

const ADMIN = 'cli-admin-token';
const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });

async function maestro(args: string[], token = ADMIN) {
  let [stdout, stderr] = ['', ''];
  const env = { ...cliBaseEnv(), MAESTRO_API_URL: server.url, MAESTRO_TOKEN: token };
  const code = await run(args, { env, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

describe('maestro token', () => {
  it('creates, lists and revokes a token; the new token works until revoked', async () => {
    const created = await maestro(['token', 'create', 'Alice', '--role', 'viewer']);
    expect(created.code).toBe(0);
    const [first, secret] = created.stdout.split('\n');
    const id = /^Created token (\S+) for Alice \(viewer\)$/.exec(first!)?.[1];
    expect(id).toBeDefined();
    expect(secret).toMatch(/^mpt_/);

    const listed = await maestro(['token', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${id}  Alice  viewer  created \\S+  last used never$`, 'm'));
    expect(listed.stdout).not.toContain(secret);

    // Alice's own token reads, but a viewer may not manage tokens.
    expect((await maestro(['project', 'list'], secret!)).code).toBe(0);
    const refused = await maestro(['token', 'list'], secret!);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Your role (viewer) may not GET /api/tokens: it needs admin');

    const revoked = await maestro(['token', 'revoke', id!]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked token ${id}\n` });
    expect((await maestro(['project', 'list'], secret!)).code).toBe(1);
    const again = await maestro(['token', 'revoke', id!]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('Token not found');
  });

  it('defaults to member and prints JSON with --json', async () => {
    const created = await maestro(['--json', 'token', 'create', 'Bob']);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      success: true,
      data: { name: 'Bob', role: 'member', token: expect.stringMatching(/^mpt_/) },
    });
    expect((await maestro(['token', 'create', 'Eve', '--role', 'owner'])).code).toBe(1);
  });

  it('on a server without MAESTRO_TOKEN, says that the new token limits nothing yet', async () => {
    const open = await startTestServer();
    let [stdout, stderr] = ['', ''];
    const env = { ...cliBaseEnv(), MAESTRO_API_URL: open.url };
    const code = await run(['token', 'create', 'Carol', '--role', 'viewer'], {
      env,
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Created token \S+ for Carol \(viewer\)\nmpt_/);
    // Before: nothing said so, and the person believed Carol could only read.
    expect(stderr).toBe(
      'maestro: warning: this server runs without MAESTRO_TOKEN and answers requests that carry no token as the ' +
        "administrator's: this token's role limits nothing until the server is started with MAESTRO_TOKEN set.\n",
    );
    expect((await maestro(['token', 'create', 'Dave'])).stderr).toBe('');
  });
});
