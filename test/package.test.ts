import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, ROOT, startServerProcess, tempDir, testEnv } from './helpers.js';

/**
 * The package as npm installs it: only the files `npm pack` ships, in another directory, with no source tree.
 * Routes must still register (they are discovered from the installed files) and spawn must find the bundled CLI.
 */
describe('an npm-installed copy', () => {
  let server: ServerProcess;
  let files: string[];

  beforeAll(async () => {
    const dir = tempDir('maestro-install-');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const [packed] = JSON.parse(
      execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }),
    ) as [{ filename: string; files: { path: string }[] }];
    files = packed.files.map((f) => f.path);
    const installed = join(dir, 'node_modules', 'maestro-server');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1']);
    // Its dependencies, as npm would have installed them.
    symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'), 'dir');
    server = await startServerProcess({ ...testEnv(), LOG_LEVEL: 'info' }, join(installed, 'dist', 'lib', 'main.js'));
  }, 60_000);

  it('ships the compiled code and no tests or sources', () => {
    expect(files).toContain('dist/lib/main.js');
    expect(files).toContain('dist/lib/cli/main.js');
    expect(files.filter((f) => f.startsWith('dist/routes/')).length).toBeGreaterThan(30);
    expect(files.some((f) => f.endsWith('.ts') || f.startsWith('test/') || f.startsWith('dist/test/'))).toBe(false);
    expect(readdirSync(ROOT)).toContain('package-lock.json');
  });

  it('serves every route and spawns with its own CLI', async () => {
    const post = (path: string, body: unknown) =>
      fetch(server.url + path, { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const project = await post('/api/projects', { name: 'Installed', workingDir: '/tmp' });
    const task = await post('/api/tasks', { projectId: project.body.id, title: 'Work' });
    const spawned = await post('/api/sessions/spawn', { projectId: project.body.id, taskIds: [task.body.id] });
    expect(spawned.status).toBe(201);
    expect(spawned.body.initialCommand).toBe('maestro worker init');
    const skills = await fetch(`${server.url}/api/skills`);
    expect(skills.status).toBe(200);
  });
});
