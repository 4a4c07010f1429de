import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freeLoopbackUrl, listen, onFileEnd, ROOT, startServerProcess, tempDir, testEnv } from './helpers.js';
import { freshDatabaseUrl, hasPostgres } from './postgres.js';

/**
 * The documented cluster (docs/deployment.md, deploy/compose.cluster.yaml, deploy/nginx.conf) without a Docker
 * daemon: the throwaway PostgreSQL, two compiled servers with the environment the compose file gives them, and
 * Debian's nginx with the documented configuration, only the service names and ports mapped to loopback.
 */

const NGINX = '/usr/sbin/nginx';
const compose = readFileSync(join(ROOT, 'deploy/compose.cluster.yaml'), 'utf8');
const proxyConf = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8');
const deployment = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');

/** The `environment:` mapping of a compose service (the lines `KEY: value` under it), quotes removed. */
function serviceEnv(service: string): Record<string, string> {
  const lines = compose.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^  ${service}:`).test(l));
  const env = lines.findIndex((l, i) => i > start && l === '    environment:');
  const vars: Record<string, string> = {};
  for (const line of lines.slice(env + 1)) {
    const m = /^ {6}([A-Z_]+): (.*)$/.exec(line);
    if (!m) break;
    vars[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return vars;
}

/** Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` with the values the test sets. */
const substitute = (value: string, vars: Record<string, string>) =>
  value.replace(/\$\{(\w+)(?::[-?][^}]*)?\}/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`The test sets no value for \${${name}}`);
    return vars[name]!;
  });

function startNginx(conf: string): Promise<ChildProcess> {
  const dir = tempDir('maestro-nginx-');
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'default.conf'), conf);
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; ${user} pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  include ${dir}/default.conf;
}
`,
  );
  const proc = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'pipe' });
  onFileEnd(() => void (proc.exitCode === null && proc.kill('SIGTERM')));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stderr!.on('data', (c) => (out += c));
    proc.once('exit', (code) => reject(new Error(`nginx exited with ${code}: ${out}`)));
    proc.once('spawn', () => resolve(proc));
  });
}

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

describe('the documented cluster configuration', () => {
  it('is what docs/deployment.md shows, and instance B is instance A', () => {
    expect(deployment).toContain(compose.trim());
    expect(deployment).toContain(proxyConf.trim());
    expect(compose).toMatch(/^ {2}maestro-a: &maestro$/m);
    expect(compose).toMatch(/^ {2}maestro-b: \*maestro$/m);
    expect(compose).toContain('./nginx.conf:/etc/nginx/conf.d/default.conf:ro');
  });
});

if (!existsSync(NGINX)) console.warn('nginx is not installed (apt-get install nginx-light): the cluster-behind-a-proxy test is skipped');
describe.skipIf(!hasPostgres || !existsSync(NGINX))('two instances behind nginx, configured as documented', () => {
  it('serves through the proxy, WebSocket included; kill -9 of one instance loses nothing acknowledged', async () => {
    const token = 'cluster-test-token';
    const proxyUrl = await freeLoopbackUrl();
    const documented = serviceEnv('maestro-a');
    const env = Object.fromEntries(
      Object.entries(documented).map(([k, v]) => [
        k,
        substitute(v, { POSTGRES_PASSWORD: 'pw', MAESTRO_TOKEN: token, SERVER_URL: proxyUrl }),
      ]),
    );
    expect(env.DATABASE_URL).toBe('postgres://maestro:pw@db:5432/maestro');
    expect([env.HOST, env.PORT]).toEqual(['0.0.0.0', '3000']);
    // One machine, loopback only: the test's database, and each instance on a port of its own.
    Object.assign(env, { DATABASE_URL: await freshDatabaseUrl(), HOST: '127.0.0.1', PORT: '0' });
    const clean = { DATABASE_TYPE: '', MAESTRO_ALLOW_INSECURE: '' };
    const [a, b] = await Promise.all([0, 1].map(() => startServerProcess({ ...testEnv(), ...clean, ...env, LOG_LEVEL: 'info' })));

    const port = (url: string) => new URL(url).port;
    let conf = proxyConf
      .replace('server maestro-a:3000;', `server 127.0.0.1:${port(a!.url)};`)
      .replace('server maestro-b:3000;', `server 127.0.0.1:${port(b!.url)};`)
      .replace('listen 80;', `listen 127.0.0.1:${port(proxyUrl)};`);
    expect(conf.match(/127\.0\.0\.1/g)).toHaveLength(3);
    conf = conf.replace(/^#.*\n/, '');
    await startNginx(conf);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const post = (base: string, name: string) =>
      fetch(`${base}/api/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ name }) }).then(async (r) => ({
        status: r.status,
        body: await r.json().catch(() => undefined),
      }));
    await until('the proxy answers', async () => ((await fetch(`${proxyUrl}/api/projects`, { headers: auth })).ok ? true : undefined));

    // A socket through the proxy (on A or B) gets events written on either instance.
    const wsUrl = `${proxyUrl.replace('http', 'ws')}/ws?token=${token}`;
    const socket = await listen(wsUrl);
    const onA = (await post(a!.url, 'written on A')).body.id;
    const onB = (await post(b!.url, 'written on B')).body.id;
    const seen = await socket.waitFor(2, 15_000);
    expect(seen.map((e) => [e.type, e.data.id])).toEqual([
      ['project:created', onA],
      ['project:created', onB],
    ]);
    const unauthorised = await fetch(`${proxyUrl}/api/projects`);
    expect(unauthorised.status).toBe(401);

    // A burst through the proxy; instance A dies mid-burst.
    const acknowledged: string[] = [];
    let killed = false;
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        post(proxyUrl, `burst ${i}`).then((r) => {
          if (r.status === 201) acknowledged.push(r.body.id);
          if (acknowledged.length >= 15 && !killed) {
            killed = true;
            a!.proc.kill('SIGKILL');
          }
        }),
      ),
    );
    await a!.exited;
    expect(acknowledged.length).toBeGreaterThanOrEqual(15);
    // B has applied every acknowledged write (its own, and A's through the database), and keeps serving.
    const served = await until('B serves every acknowledged project', async () => {
      const ids = new Set(
        ((await (await fetch(`${proxyUrl}/api/projects`, { headers: auth })).json()) as { id: string }[]).map((p) => p.id),
      );
      return acknowledged.every((id) => ids.has(id)) ? ids : undefined;
    });
    expect(served.size).toBeGreaterThanOrEqual(acknowledged.length + 2);
    expect((await post(proxyUrl, 'after the crash')).status).toBe(201);
    // A client reconnecting through the proxy with since=0 gets every acknowledged project's event, in seq order.
    const replay = await listen(`${wsUrl}&since=0`);
    const created = await until('the replay holds every acknowledged project', async () => {
      const ids = new Set(
        replay
          .events()
          .filter((e) => e.type === 'project:created')
          .map((e) => e.data.id),
      );
      return acknowledged.every((id) => ids.has(id)) ? replay.events() : undefined;
    });
    const seqs = created.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
  });
});
