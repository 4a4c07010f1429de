#!/usr/bin/env node
// Builds the dashboard (ui/ → dist/ui/) only when its sources changed, as `tsc -b` does for the server's code.
// The inputs are every file under ui/ and package-lock.json (the versions of Vite, Preact and xterm); their hash
// is kept in dist/.ui-build-stamp (outside dist/ui/, so it is never served). `--force` builds anyway.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist/ui');
const stampFile = join(root, 'dist/.ui-build-stamp');

/** Every file under `dir`, sorted, as paths relative to the package root. */
const filesUnder = (dir) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();

function inputsHash() {
  const hash = createHash('sha256');
  for (const file of [...filesUnder(join(root, 'ui')), 'package-lock.json']) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const stamp = inputsHash();
const built = existsSync(join(out, 'index.html')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp;
if (built && !process.argv.includes('--force')) {
  console.log('dashboard: up to date (ui/ unchanged since the last build)');
} else {
  const { build } = await import('vite');
  await build({ configFile: join(root, 'ui/vite.config.ts') });
  // Written after the build, so an interrupted build is redone next time.
  writeFileSync(stampFile, `${stamp}\n`);
  console.log('dashboard: built into dist/ui/');
}
