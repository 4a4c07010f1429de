// Where this package's files are, from source or compiled, and its package.json.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where this package's files are, wherever a module that asks sits: code runs from source (`lib/`, in tests) or
 * compiled (`dist/lib/`, installed), and each folder below is the same in both.
 */
export const LIB_DIR = dirname(fileURLToPath(import.meta.url));
/** `lib/`'s parent: the package root from source, `dist/` when compiled; `routes/` sits beside `lib/` in both. */
export const CODE_ROOT = dirname(LIB_DIR);
/** The package's root folder (where `package.json` is). */
export const PACKAGE_ROOT = basename(CODE_ROOT) === 'dist' ? dirname(CODE_ROOT) : CODE_ROOT;
/** The compiled output folder, `dist/`. */
export const DIST_DIR = join(PACKAGE_ROOT, 'dist');
/** What this package's `package.json` says of it. */
export const PACKAGE_INFO = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  description: string;
};
