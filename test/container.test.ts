import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

/**
 * No Docker daemon runs here, so this runs the image's entry command the way the container does: the final stage's
 * ENV, WORKDIR and CMD read from the Dockerfile itself, the compiled package in a copy of the image's /app, a fresh
 * directory standing for the /data volume, and — when the tests run as root — the unprivileged uid 1000 of the
 * image's `node` user (through setpriv). Only PORT is changed (to 0), so parallel tests never collide.
 */
function finalStage() {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stage = lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)));
  const env: Record<string, string> = {};
  for (const line of stage.filter((l) => /^ENV\s/i.test(l))) {
    for (const [, key, value] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[key!] = value!;
  }
  const arg = (directive: string) =>
    stage
      .find((l) => l.startsWith(`${directive} `))
      ?.slice(directive.length + 1)
      .trim();
  const json = (value: string | undefined) => JSON.parse(value!.replace(/^.*?CMD\s+/, '')) as string[];
  return {
    from: stage[0]!,
    env,
    workdir: arg('WORKDIR')!,
    user: arg('USER'),
    volume: arg('VOLUME'),
    cmd: json(arg('CMD')),
    healthcheck: json(arg('HEALTHCHECK')),
  };
}

const UID = 1000;
const asRoot = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function copyTree(from: string, to: string) {
  try {
    execFileSync('cp', ['-al', from, to], { stdio: 'ignore' });
  } catch {
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

/** A copy of the image's file system: /app with the compiled package, and an empty /data owned by the `node` user. */
function imageRoot(stage: ReturnType<typeof finalStage>) {
  const root = tempDir('maestro-image-');
  chmodSync(root, 0o755); // a temporary directory is private to its creator; the image's / is not
  const app = join(root, stage.workdir);
  mkdirSync(app, { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  // Copies, not symlinks: the container's user must not need to reach into the checkout, whose folders may be
  // private to their owner. Hard links make the copy cheap where both sit on one filesystem.
  for (const dir of ['dist', 'node_modules']) copyTree(join(ROOT, dir), join(app, dir));
  const data = join(root, stage.volume!.replace(/^\["?|"?\]$/g, ''));
  mkdirSync(data);
  if (asRoot) chownSync(data, UID, UID);
  // The variables as the container sees them, with /data mapped onto the stand-in directory.
  const env = Object.fromEntries(Object.entries(stage.env).map(([k, v]) => [k, v.replace(/^\/data(?=\/|$)/, data)]));
  return { app, data, env: { PATH: process.env.PATH!, HOME: root, ...env, PORT: '0' } };
}

/** Runs a command as the container would: in WORKDIR, with only its environment, as uid 1000 when possible. */
function run(command: string[], cwd: string, env: Record<string, string>) {
  const [file, ...args] = asRoot ? ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--', ...command] : command;
  const proc = spawn(file!, args, { cwd, env, stdio: 'pipe' });
  procs.push(proc);
  let out = '';
  const exited = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk;
      const port = /listening on http:\/\/[^:\s]+:(\d+)/.exec(out)?.[1];
      if (port) resolve(port);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    exited.then((code) => reject(new Error(`exited with ${code} before listening:\n${out}`)));
  });
  listening.catch(() => {}); // awaited only by the tests that expect it to listen
  return { proc, exited, listening, output: () => out };
}

describe('the container image (entry command run as the container runs it; no Docker daemon here)', () => {
  const stage = finalStage();

  it('is a slim Node 20, unprivileged, with /data as its volume and the server on 0.0.0.0', () => {
    expect(stage.from).toMatch(/^FROM node:20-slim$/);
    expect(stage.user).toBe('node');
    expect(stage.volume).toBe('/data');
    expect(stage.env).toMatchObject({ HOST: '0.0.0.0', DATA_DIR: '/data', NODE_ENV: 'production' });
    expect(stage.env.MAESTRO_ALLOW_INSECURE).toBeUndefined();
    expect(stage.cmd).toEqual(['node', 'dist/lib/server.js']);
  });

  it('refuses to start without MAESTRO_TOKEN', async () => {
    const { app, env } = imageRoot(stage);
    const server = run(stage.cmd, app, env);
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/Refusing to listen on 0\.0\.0\.0 without MAESTRO_TOKEN/);
  });

  it('serves with a token, passes its health check, and keeps its data in the volume across restarts', async () => {
    const { app, data, env } = imageRoot(stage);
    const withToken = { ...env, MAESTRO_TOKEN: 'container-token' };
    const auth = { authorization: 'Bearer container-token' };
    let server = run(stage.cmd, app, withToken);
    let url = `http://127.0.0.1:${await server.listening}`;

    const health = run(stage.healthcheck, app, { ...withToken, PORT: new URL(url).port });
    expect(await health.exited).toBe(0);
    expect((await fetch(`${url}/api/projects`)).status).toBe(401);
    const created = await fetch(`${url}/api/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Boxed' }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const file = join(data, 'projects', `${id}.json`);
    expect(existsSync(file)).toBe(true);
    if (asRoot) expect(statSync(file).uid).toBe(UID);

    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // Once stopped, the health check fails.
    expect(await run(stage.healthcheck, app, { ...withToken, PORT: new URL(url).port }).exited).toBe(1);

    server = run(stage.cmd, app, withToken);
    url = `http://127.0.0.1:${await server.listening}`;
    const again = await fetch(`${url}/api/projects/${id}`, { headers: auth });
    expect(((await again.json()) as { name: string }).name).toBe('Boxed');
    expect(readdirSync(data).sort()).toEqual(expect.arrayContaining(['projects', 'sessions', 'tasks']));
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 30_000);
});

describe('.dockerignore', () => {
  it('keeps local builds, dependencies and secrets out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.env']));
    // What the build stage copies must not be ignored.
    const copied = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(' '),
    );
    expect(copied.filter((f) => ignored.includes(f))).toEqual([]);
    // Everything `npm run build` reads: the server's sources, the bundling and dashboard scripts, the dashboard.
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'lib', 'routes', 'scripts', 'ui']));
  });
});
