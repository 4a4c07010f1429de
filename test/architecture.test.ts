// The shape of lib/: no import cycle (type-only imports count), and lower layers never import upper ones.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const LIB = join(ROOT, 'lib');

/** Every .ts file under lib/, as a path relative to the repository (`lib/http/app.ts`). */
function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return libFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [relative(ROOT, path)] : [];
  });
}

/** The lib/ files a file imports: static, re-exports, type-only and dynamic `import()`, relative specifiers only. */
function relativeImports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => relative(ROOT, resolve(dirname(join(ROOT, file)), name)).replace(/\.js$/, '.ts'));
}

/** The import graph of lib/. */
const libGraph = () => new Map(libFiles().map((file) => [file, relativeImports(file)]));

/** Every cycle found by a depth-first walk, each as its files in import order with the first repeated at the end. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (file: string) => {
    const at = stack.indexOf(file);
    if (at >= 0) return void cycles.push([...stack.slice(at), file]);
    if (done.has(file)) return;
    stack.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    stack.pop();
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) visit(file);
  return cycles;
}

/** A layer and the folders of lib/ it must not import. */
const RULES: [string, string[]][] = [
  ['lib/storage/', ['lib/http/', 'lib/domain/', 'lib/hosts/', 'lib/cli/']],
  ['lib/domain/', ['lib/http/', 'lib/cli/']],
  ['lib/runner/', ['lib/http/', 'lib/hosts/', 'lib/storage/']],
];
/**
 * Storage may know three things of the domain: the shapes it stores (`types.ts`: an engine keeps each kind of entity
 * in its own place), the event envelope it logs and numbers (`events.ts`), and the actor of a mutation, taken when
 * it is asked for and stamped on its events (`actor.ts`, §23). Nothing else of the layers above.
 */
const STORAGE_MAY_IMPORT = new Set(['lib/domain/types.ts', 'lib/domain/events.ts', 'lib/domain/actor.ts']);
const allowed = (edge: string) => {
  const [from, to] = edge.split(' → ') as [string, string];
  return from.startsWith('lib/storage/') && STORAGE_MAY_IMPORT.has(to);
};

describe('lib/ architecture', () => {
  it('finds the imports of lib/, type-only and dynamic ones included', () => {
    const graph = libGraph();
    expect(graph.get('lib/services.ts')).toContain('lib/hosts/index.ts');
    expect(graph.get('lib/hosts/index.ts')).toContain('lib/storage/db.ts'); // `import type`
    expect(graph.get('lib/cli/host.ts')).toContain('lib/runner/index.ts'); // `await import()`
    for (const [file, imports] of graph) {
      for (const imported of imports) expect(graph.has(imported), `${file} imports ${imported}, which is not a lib/ file`).toBe(true);
    }
  });

  it('the cycle finder names a cycle', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('has no import cycle', () => {
    const cycles = findCycles(libGraph()).map((cycle) => cycle.join(' → '));
    expect(cycles, `import cycles:\n${cycles.join('\n')}`).toEqual([]);
  });

  it.each(RULES)('%s imports nothing from a layer above it', (layer, forbidden) => {
    const wrong = [...libGraph()]
      .filter(([file]) => file.startsWith(layer))
      .flatMap(([file, imports]) => imports.filter((i) => forbidden.some((f) => i.startsWith(f))).map((i) => `${file} → ${i}`))
      .filter((edge) => !allowed(edge));
    expect(wrong).toEqual([]);
  });
});
