import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { onFileEnd, ROOT, type ServerProcess, tempDir, testEnv, untilListening } from './helpers.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/**
 * `npx <bin>` in `cwd`, in its own process group (npx runs the bin as a child: both are stopped together), resolved
 * once the server logs its URL.
 */
function startNpx(cwd: string, args: string[], env: Record<string, string>): Promise<ServerProcess> {
  const proc = spawn(npx, args, { cwd, env: { ...process.env, ...env }, stdio: 'pipe', detached: true });
  onFileEnd(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return untilListening(proc, `npx ${args.join(' ')}`);
}

/**
 * The package as npm installs it: only the files `npm pack` ships, in another directory, with no source tree.
 * Routes must still register (they are discovered from the installed files) and spawn must find the bundled CLI.
 */
describe('an npm-installed copy', () => {
  let server: ServerProcess;
  let files: string[];
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('maestro-install-');
    const [packed] = JSON.parse(
      execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }),
    ) as [{ filename: string; files: { path: string }[] }];
    files = packed.files.map((f) => f.path);
    // Installed as a user would: the tarball and its production dependencies only (from the npm cache when it can).
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', `./${packed.filename}`], { cwd: dir, stdio: 'pipe' });
    server = await startNpx(dir, ['maestro-server'], { ...testEnv(), LOG_LEVEL: 'info' });
  }, 180_000);
  it('ships the compiled code and no tests or sources', () => {
    expect(files).toContain('dist/lib/server.js');
    expect(files).toContain('dist/lib/cli/main.js');
    // The README's links lead into docs/, so the docs ship with it.
    expect(files).toContain('docs/architecture.md');
    expect(files.filter((f) => f.startsWith('dist/routes/')).length).toBeGreaterThan(30);
    expect(files.some((f) => f.endsWith('.ts') || f.startsWith('test/') || f.startsWith('dist/test/'))).toBe(false);
    expect(readdirSync(ROOT)).toContain('package-lock.json');
  });

  it('serves every route and spawns with its own CLI', async () => {
    const post = (path: string, body: unknown) =>
      fetch(server.url + path, { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as any,
      }));
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const project = await post('/api/projects', { name: 'Installed', workingDir: '/tmp' });
    const task = await post('/api/tasks', { projectId: project.body.id, title: 'Work' });
    const spawned = await post('/api/sessions/spawn', { projectId: project.body.id, taskIds: [task.body.id] });
    expect(spawned.status).toBe(201);
    expect(spawned.body.initialCommand).toBe('maestro worker init');
    const skills = await fetch(`${server.url}/api/skills`);
    expect(skills.status).toBe(200);
    expect((await fetch(`${server.url}/api/openapi.json`)).status).toBe(200);
  });

  it('runs its CLI with npx, with production dependencies only', () => {
    const help = execFileSync(npx, ['maestro', '--help'], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...testEnv() } });
    expect(help).toMatch(/^Usage: maestro \[options\] \[command\]/);
    expect(help).toContain('mcp');
    const installed = join(dir, 'node_modules');
    expect(existsSync(join(installed, 'maestro-server', 'dist', 'lib', 'main.js'))).toBe(true);
    expect(existsSync(join(installed, 'vitest'))).toBe(false);
    expect(existsSync(join(installed, 'typescript'))).toBe(false);
  });
});
