#!/usr/bin/env node
// The `maestro-server` bin: with no argument it serves; `export`, `import` and `--help` are store commands (§22.2).
const args = process.argv.slice(2);
if (args.length === 0) {
  const { runServer } = await import('./start.js');
  await runServer();
} else {
  const { runStoreCommand } = await import('./store-commands.js');
  process.exitCode = await runStoreCommand(args);
}
