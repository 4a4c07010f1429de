import { describe, expect, it } from 'vitest';
import { run } from '../lib/cli/program.js';
import { cliBaseEnv, startTestServer } from './helpers.js';

/*
 * The CLI's long-running commands against a refused token (issue 20): `maestro watch` and `maestro inbox --watch`
 * stop with the reason and exit non-zero instead of retrying forever; and `maestro session timeline` pages the
 * timeline route (§24.9) instead of showing only what the session keeps. In-process, against a real server.
 */

const ADMIN = 'cli-watch-admin-token';
const server = await startTestServer({ MAESTRO_TOKEN: ADMIN });
const auth = { authorization: `Bearer ${ADMIN}` };
const admin = (method: string, path: string, body?: unknown) => server.call(method, path, body, auth);

/** Runs the CLI in-process; `onOut` sees stdout as it grows. */
function maestro(args: string[], env: Record<string, string>, onOut: (stdout: string) => void = () => {}) {
  let [stdout, stderr] = ['', ''];
  const done = run(args, {
    env: { ...cliBaseEnv(), MAESTRO_API_URL: server.url, ...env },
    stdout: (t) => {
      stdout += t;
      onOut(stdout);
    },
    stderr: (t) => void (stderr += t),
  }).then((code) => ({ code, stdout, stderr }));
  return done;
}

const mint = async (name: string) => (await admin('POST', '/api/tokens', { name, role: 'member' })).body as { id: string; token: string };

describe('watching with a token the server refuses', () => {
  it('`maestro watch` stops when its token is revoked, names the problem and exits 1', async () => {
    const alice = await mint('Alice');
    const project = (await admin('POST', '/api/projects', { name: 'Watched' })).body;
    let watching!: () => void;
    const printed = new Promise<void>((resolve) => (watching = resolve));
    const run = maestro(['watch'], { MAESTRO_TOKEN: alice.token }, (out) => out.includes(project.id) && watching());
    // The watcher is connected once it prints an event made after it started.
    for (let i = 0; ; i++) {
      await admin('PUT', `/api/projects/${project.id}`, { description: `ping ${i}` });
      const seen = await Promise.race([printed.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]);
      if (seen) break;
    }
    expect((await admin('DELETE', `/api/tokens/${alice.id}`)).status).toBe(204);
    const result = await run;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^maestro: the event stream was refused \(HTTP 401\): Missing or invalid bearer token: check MAESTRO_TOKEN: .*revoked/m,
    );
  });

  it('`maestro watch` with a wrong token exits 1 at once instead of retrying', async () => {
    const result = await maestro(['watch'], { MAESTRO_TOKEN: 'not-the-token' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Missing or invalid bearer token: check MAESTRO_TOKEN');
    expect(result.stdout).toBe('');
  });

  it('`maestro watch` with an ended session token names MAESTRO_SESSION_TOKEN', async () => {
    // A session token of an ended session is refused like a revoked one (§15.6).
    const result = await maestro(['watch'], { MAESTRO_SESSION_TOKEN: 'mst_long_gone' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('check MAESTRO_SESSION_TOKEN');
  });

  it('`maestro inbox --watch` stops when its token is revoked and exits 1', async () => {
    const bob = await mint('Bob');
    const project = (await admin('POST', '/api/projects', { name: 'Inbox' })).body;
    const session = (await admin('POST', '/api/sessions', { projectId: project.id, taskIds: [], name: 'reader' })).body;
    let watching!: () => void;
    const printed = new Promise<void>((resolve) => (watching = resolve));
    const run = maestro(['inbox', '--watch'], { MAESTRO_TOKEN: bob.token, MAESTRO_SESSION_ID: session.id }, (out) =>
      out.includes('hello reader') ? watching() : undefined,
    );
    await admin('POST', `/api/sessions/${session.id}/messages`, { message: 'hello reader' });
    await printed;
    expect((await admin('DELETE', `/api/tokens/${bob.id}`)).status).toBe(204);
    const result = await run;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/check MAESTRO_TOKEN: .*revoked/);
  });
});

describe('maestro session timeline pages the timeline route (§24.9)', () => {
  it('shows the newest 100 by default, --limit and --before go further back, --all shows every entry', async () => {
    const project = (await admin('POST', '/api/projects', { name: 'Long run' })).body;
    const session = (await admin('POST', '/api/sessions', { projectId: project.id, taskIds: [], name: 'long' })).body;
    const TOTAL = 520;
    for (let i = 0; i < TOTAL; i += 40) {
      await Promise.all(
        Array.from({ length: Math.min(40, TOTAL - i) }, (_, k) =>
          admin('POST', `/api/sessions/${session.id}/timeline`, { type: 'progress', message: `step ${String(i + k).padStart(3, '0')}` }),
        ),
      );
    }
    const all = (await admin('GET', `/api/sessions/${session.id}/timeline?limit=500`)).body;
    const rest = (await admin('GET', `/api/sessions/${session.id}/timeline?limit=500&before=${all.next}`)).body;
    const everyEntry = [...all.entries, ...rest.entries].reverse();
    expect(rest.next).toBeNull();
    // The session itself keeps only its newest 100: what the old command printed.
    expect((await admin('GET', `/api/sessions/${session.id}`)).body.timeline).toHaveLength(100);
    const env = { MAESTRO_TOKEN: ADMIN };
    const lines = (stdout: string) => stdout.split('\n').filter(Boolean);
    const message = (line: string) => /step \d+|Session created/.exec(line)?.[0];

    const byDefault = await maestro(['session', 'timeline', session.id], env);
    expect(byDefault.code).toBe(0);
    expect(lines(byDefault.stdout).map(message)).toEqual(everyEntry.slice(-100).map((e: any) => e.message));
    const oldestShown = everyEntry.at(-100).id;
    expect(byDefault.stderr).toBe(`maestro: older entries remain: --before ${oldestShown} (or --limit, --all)\n`);

    const further = await maestro(['session', 'timeline', session.id, '--before', oldestShown, '--limit', '150'], env);
    expect(lines(further.stdout).map(message)).toEqual(everyEntry.slice(-250, -100).map((e: any) => e.message));

    const everything = await maestro(['--json', 'session', 'timeline', session.id, '--all'], env);
    expect(everything.code).toBe(0);
    const data = JSON.parse(everything.stdout).data;
    expect(data.map((e: any) => e.id)).toEqual(everyEntry.map((e: any) => e.id));
    expect(data).toHaveLength(everyEntry.length);
    expect(everyEntry.length).toBeGreaterThan(TOTAL);
    expect(everything.stderr).toBe('');

    const bad = await maestro(['session', 'timeline', session.id, '--limit', '0'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('maestro: --limit must be a positive integer\n');
  });
});
