// `npm start` builds the dashboard only when ui/ changed (scripts/build-dashboard.mjs), in a copy of the package.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

const build = (dir: string) =>
  execFileSync(process.execPath, [join(dir, 'scripts/build-dashboard.mjs')], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });

describe('the dashboard build (npm start, npm run build)', { timeout: 240_000 }, () => {
  it('builds once, skips while ui/ is unchanged, builds again after a change', () => {
    const dir = tempDir('maestro-ui-build-');
    for (const path of ['ui', 'scripts', 'package.json', 'package-lock.json'])
      cpSync(join(ROOT, path), join(dir, path), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const page = join(dir, 'dist/ui/index.html');

    expect(build(dir)).toContain('dashboard: built into dist/ui/');
    const first = statSync(page).mtimeMs;

    expect(build(dir)).toContain('dashboard: up to date (ui/ unchanged since the last build)');
    expect(statSync(page).mtimeMs).toBe(first);

    const html = join(dir, 'ui/index.html');
    writeFileSync(html, readFileSync(html, 'utf8').replace('</head>', '<meta name="x-changed" content="1"></head>'));
    expect(build(dir)).toContain('dashboard: built into dist/ui/');
    expect(readFileSync(page, 'utf8')).toContain('x-changed');
  });
});
