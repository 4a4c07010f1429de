// `npm run bench`: runs every scenario in bench/scenarios/ (or those named) against the compiled server and prints
// one table, each measurement beside its floor measured in the same run.
// Usage: node bench/run.mjs [--quick] [--root <checkout with dist/>] [scenario …]
// A scenario is a module exporting `name` and `run({ root, quick, rounds, bench })`, which resolves to rows
// `{ scenario, value, floor, unit, target?, met? }`; adding a file to bench/scenarios/ adds it to the table.
import { readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bench = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? resolve(args[rootAt + 1]) : resolve(bench, '..');
const wanted = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--root');
const ORDER = ['reads', 'fanout', 'startup', 'writes', 'claims', 'messages', 'runners', 'fleet', 'postgres'];

const files = readdirSync(`${bench}/scenarios`).filter((f) => f.endsWith('.mjs'));
const scenarios = (await Promise.all(files.map((f) => import(pathToFileURL(`${bench}/scenarios/${f}`).href))))
  .filter((s) => wanted.length === 0 || wanted.includes(s.name))
  .sort((a, b) => (ORDER.indexOf(a.name) + 1 || 99) - (ORDER.indexOf(b.name) + 1 || 99));

const fmt = (n, unit) =>
  typeof n !== 'number' || Number.isNaN(n)
    ? '–'
    : `${n >= 100 || unit === '' ? n.toFixed(0) : n.toFixed(1)}${unit && unit !== '/s' ? ` ${unit}` : ''}`;
const rows = [];
const t0 = performance.now();
for (const scenario of scenarios) {
  const started = performance.now();
  process.stderr.write(`running ${scenario.name}…`);
  const result = await scenario.run({ root, quick, rounds: quick ? 1 : 3, bench }).catch((error) => {
    process.stderr.write(` failed: ${error.stack}\n`);
    return [{ scenario: `${scenario.name}: failed (${String(error.message).split('\n')[0]})` }];
  });
  process.stderr.write(` ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  rows.push(...result);
}

const table = [
  ['Scenario', 'Maestro', 'Floor', 'Ratio', 'Target', 'Met'],
  ...rows.map((r) => [
    r.scenario,
    fmt(r.value, r.unit),
    fmt(r.floor, r.unit),
    r.floor ? `${(r.value / r.floor).toFixed(2)}×` : '–',
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'no',
  ]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
console.log(line(table[0]));
console.log(`|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`);
for (const row of table.slice(1)) console.log(line(row));
console.log(
  `\n${quick ? 'quick run, 1 round' : 'medians of 3 alternating rounds'}; ${((performance.now() - t0) / 1000).toFixed(0)} s in all; node ${process.version}`,
);
