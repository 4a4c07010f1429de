#!/usr/bin/env node
// The `maestro-server` bin: with no argument it serves; `export`, `import` and `--help` are store commands (§22.2).
import { parseConfig } from './config.js';
import { listEarly } from './storage/file/listing.js';

const args = process.argv.slice(2);
if (args.length === 0) {
  // The entity files are listed while the server's code loads (a wrong configuration is reported by runServer).
  try {
    const config = parseConfig(process.env);
    if (config.databaseType === 'file') listEarly(config.dataDir);
  } catch {}
  const { runServer } = await import('./start.js');
  await runServer();
} else {
  // `maestro-server export | head`: the reader has gone. The export learns it from its write and ends quietly once it
  // closed the store (exiting here would leave the store's lock behind, for the next start to take over as stale).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  const { runStoreCommand } = await import('./store-commands.js');
  process.exitCode = await runStoreCommand(args);
}
