import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/** Compiles the package once before the suite, so tests can start `dist/lib/main.js` and the `maestro` CLI. */
export default function setup() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
