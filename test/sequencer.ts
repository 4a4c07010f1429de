// The order test files start in: the longest first, so that a run with several workers does not end on one long file.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * vitest's own order (failed first, then longest first by the durations of the last run) when it knows every file's
 * duration. Without them (a fresh checkout: `npm ci` empties node_modules, where vitest keeps them) it orders by size,
 * and a PostgreSQL matrix file (test/postgres/x.test.ts: a few lines that import test/x.test.ts) weighs as the file it
 * runs again, which is slower on PostgreSQL, not as its own few lines: by its own size it would start last.
 */
export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const known = (spec: TestSpecification) =>
      this.ctx.cache.getFileTestResults(`${spec.project.name}:${relative(root, spec.moduleId)}`) !== undefined;
    if (files.every(known)) return super.sort(files);
    const weight = (spec: TestSpecification) => {
      const file = spec.moduleId;
      const original = join(dirname(dirname(file)), basename(file));
      if (basename(dirname(file)) === 'postgres' && existsSync(original)) return statSync(original).size * 1.5;
      return statSync(file).size;
    };
    return [...files].sort((a, b) => weight(b) - weight(a));
  }
}
