// `maestro manifest generate`: the session manifest written from `DATA_DIR`, run by the server on spawn (§6.5).
import type { Command } from 'commander';
import { resolveDataDir } from '../config.js';
import { buildManifest, writeJsonFile } from '../domain/manifest.js';
import { ioOf } from './context.js';

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `maestro manifest generate`: run by the server on spawn; reads `DATA_DIR` directly, not over HTTP (contract §6.4). */
export function manifestCommands(program: Command) {
  const manifest = program.command('manifest').description('Session manifests');
  manifest
    .command('generate')
    .description('Write the manifest of a session from the tasks in DATA_DIR (used by the server when it spawns a session)')
    .requiredOption('--role <role>', 'worker or orchestrator')
    .requiredOption('--project-id <id>', 'project of the session')
    .requiredOption('--task-ids <ids>', 'comma-separated task IDs')
    .option('--skills <ids>', 'comma-separated skill IDs', '')
    .option('--strategy <strategy>', 'simple, queue or tree', 'simple')
    .requiredOption('--output <path>', 'where to write manifest.json')
    .action(
      async (
        opts: { role: string; projectId: string; taskIds: string; skills: string; strategy: string; output: string },
        command: Command,
      ) => {
        const io = ioOf(command);
        try {
          const result = await buildManifest({
            dataDir: resolveDataDir(io.env),
            role: opts.role,
            projectId: opts.projectId,
            taskIds: list(opts.taskIds),
            skills: list(opts.skills),
            strategy: opts.strategy,
          });
          await writeJsonFile(opts.output, result);
          io.stdout(`Manifest written to ${opts.output}\n`);
        } catch (error) {
          io.stderr(`maestro: ${(error as Error).message.split('\n')[0]}\n`);
          io.exitCode = 1;
        }
      },
    );
}
