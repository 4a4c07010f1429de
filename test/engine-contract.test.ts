import { createLogger } from '../lib/log.js';
import { FileEngine } from '../lib/storage/file/engine.js';
import { engineContract } from './engine-contract.js';
import { tempDir } from './helpers.js';

// The file engine against the shared storage engine contract (the PostgreSQL engine joins with its own factory).
engineContract('file', {
  fresh: async () => tempDir(),
  engine: (dir) => new FileEngine({ dir, log: createLogger('error') }),
});
