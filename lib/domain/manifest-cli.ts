// Runs this package's CLI to write a spawn's manifest, with a timeout and no shell (§6.4).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import { DIST_DIR } from '../package-root.js';
import { cleanEnv } from '../runner/clean-env.js';
import { buildManifest, type ManifestSource, writeJsonFile } from './manifest.js';
import type { SpawnRequest } from './spawn-request.js';

/** This package's own CLI, compiled: `dist/lib/cli/main.js` whether this file runs from source or from `dist/`. */
export function bundledCliPath(): string {
  return join(DIST_DIR, 'lib', 'cli', 'main.js');
}

/**
 * Spawn steps 4–5 (contract §6.4): runs `<cli> manifest generate …` with an argv array (no shell), a timeout and
 * captured output, then reads the manifest it wrote. Fails with 500 `manifest_generation_failed` and the reason.
 */
export async function runManifestCli(
  config: Config,
  log: Logger,
  request: SpawnRequest,
  output: string,
  source?: ManifestSource,
): Promise<Record<string, unknown>> {
  // This package's own CLI would run exactly buildManifest() on the same files: do that in-process, which spares
  // a Node start per spawn (about half a second, several seconds for a burst of spawns on a small machine). On
  // PostgreSQL there are no files for a CLI to read: the server builds the manifest from its store (§22.2).
  if (!config.cliPath || source) {
    try {
      const manifest = await buildManifest({
        dataDir: config.dataDir,
        source,
        role: request.role,
        projectId: request.projectId,
        taskIds: request.taskIds,
        skills: request.skills,
        strategy: request.strategy,
      });
      await writeJsonFile(output, manifest);
      return manifest as unknown as Record<string, unknown>;
    } catch (error) {
      const reason = (error as Error).message;
      throw new ApiError(
        500,
        'manifest_generation_failed',
        `Failed to generate manifest: Manifest generation failed (exit code 1): ${reason}`,
      );
    }
  }
  const args = [
    'manifest',
    'generate',
    '--role',
    request.role,
    '--project-id',
    request.projectId,
    '--task-ids',
    request.taskIds.join(','),
    ...(request.skills.length ? ['--skills', request.skills.join(',')] : []),
    '--strategy',
    request.strategy,
    '--output',
    output,
  ];
  const [file, argv] = config.cliPath ? [config.cliPath, args] : [process.execPath, [bundledCliPath(), ...args]];
  const timeout = config.cliTimeoutMs;
  // On POSIX the CLI runs in its own process group and a timeout ends the whole group: children of a wrapper
  // script inherit the output pipes, and the result would otherwise wait for them however long they run.
  const group = process.platform !== 'win32';
  // Loaded on first spawn: execa is a third of what the server imports, and startup does not need it.
  const { execa } = await import('execa');
  const subprocess = execa(file, argv, {
    stdin: 'ignore',
    reject: false,
    detached: group,
    // §13.5: the CLI never sees the admin token (nor a runner's).
    env: { ...cleanEnv(process.env), DATA_DIR: config.dataDir },
    extendEnv: false,
    maxBuffer: 1024 * 1024,
  });
  let timedOut = false;
  const kill = (signal: NodeJS.Signals) => {
    timedOut = true;
    try {
      if (group && subprocess.pid) process.kill(-subprocess.pid, signal);
      else subprocess.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const timers = [setTimeout(() => kill('SIGTERM'), timeout), setTimeout(() => kill('SIGKILL'), timeout + 1000)];
  const result = await subprocess.finally(() => timers.forEach(clearTimeout));
  if (result.stdout) log.debug(`maestro manifest generate: ${result.stdout}`);
  if (result.stderr) log.debug(`maestro manifest generate (stderr): ${result.stderr}`);
  const fail = (reason: string) => new ApiError(500, 'manifest_generation_failed', `Failed to generate manifest: ${reason}`);
  if (timedOut) throw fail(`Manifest generation timed out after ${timeout} ms`);
  const stderr = result.stderr.trim();
  if (result.signal) throw fail(`Manifest generation failed (killed by ${result.signal}): ${stderr || 'no error output'}`);
  if (result.exitCode === undefined) {
    throw fail(`Failed to spawn maestro CLI: ${result.cause instanceof Error ? result.cause.message : result.shortMessage}`);
  }
  if (result.exitCode !== 0) {
    if (/command not found|ENOENT/.test(stderr)) throw fail('maestro CLI not found. Please install maestro: npm install -g maestro-cli');
    throw fail(`Manifest generation failed (exit code ${result.exitCode}): ${stderr || 'no error output'}`);
  }
  try {
    const manifest: unknown = JSON.parse(await readFile(output, 'utf8'));
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
      throw new Error('the manifest is not a JSON object');
    }
    return manifest as Record<string, unknown>;
  } catch (error) {
    throw fail(`Failed to read manifest: ${(error as Error).message}`);
  }
}
