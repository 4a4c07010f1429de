import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Compiles the package before the suite, so tests can start `dist/lib/main.js` and the `maestro` CLI; `tsc -b`
 * does nothing when no source changed since the last build.
 */
export default function setup() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { stdio: 'inherit' });
}
