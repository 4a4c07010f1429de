// Floor for writes: one file at a time, the way the server makes a write durable (write a temporary file, fsync
// it, rename it over the target, fsync the directory), for a number of seconds.
// Usage: node bench/floor/durable-writes.mjs <dir> <seconds> <bytes>; prints "<n> writes/s".
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [dir, seconds = '3', bytes = '700'] = process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const data = Buffer.alloc(Number(bytes), 'x');
const deadline = performance.now() + Number(seconds) * 1000;
const t0 = performance.now();
let n = 0;
while (performance.now() < deadline) {
  const temp = join(dir, `.t${n}.tmp`);
  const fd = openSync(temp, 'w');
  writeSync(fd, data);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, join(dir, `f${n % 100}.json`));
  const d = openSync(dir, 'r');
  fsyncSync(d);
  closeSync(d);
  n++;
}
console.log(`${(n / ((performance.now() - t0) / 1000)).toFixed(1)} writes/s`);
