// Floor for startup: list a data directory and read and parse every file into a map, as little as a server can
// do to have the data in memory; then wait (to be measured) until killed. Usage: node bench/floor/read-parse.mjs <dir>
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const byId = new Map();
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.json')) {
      const value = JSON.parse(readFileSync(path, 'utf8'));
      byId.set(value.id ?? value.sessionId, value);
    }
  }
};
walk(process.argv[2]);
console.log(`loaded ${byId.size} entities: ready`);
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => process.exit(0));
