import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { postgresBinDir, startCluster } from '../bench/lib/pg-cluster.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the throwaway PostgreSQL cluster's URL appears once it runs ("" when PostgreSQL is not installed). */
    postgresReadyFile: string;
  }
}

/**
 * Compiles the package before the suite, so tests can start the bundled server (`dist/lib/server.js`) and the
 * `maestro` CLI; `tsc -b` does nothing when no source changed since the last build, and bundling takes under a
 * second. Starts one throwaway PostgreSQL cluster for the run in the background (tests that need it wait for its URL, test/postgres.ts), and removes it at the end.
 */
export default function setup(project: TestProject) {
  const bin = postgresBinDir();
  const marker = mkdtempSync(join(tmpdir(), 'maestro-pg-ready-'));
  const readyFile = join(marker, 'url');
  const cluster = bin
    ? startCluster({ durable: false }).then(
        (started) => {
          writeFileSync(readyFile, started.url);
          return started;
        },
        (error: Error) => {
          writeFileSync(readyFile, `error: ${error.message}`);
          return undefined;
        },
      )
    : undefined;
  project.provide('postgresReadyFile', bin ? readyFile : '');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/build-server.mjs'], { stdio: 'inherit' });
  return async () => {
    await (await cluster)?.stop();
    rmSync(marker, { recursive: true, force: true });
  };
}
