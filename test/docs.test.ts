// The documentation as a reader meets it: a short README that starts with the two commands, and links that lead somewhere.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const pages = [
  README,
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f)),
];
const read = (file: string) => readFileSync(file, 'utf8');

/** The text outside fenced code blocks, line by line: a `#` or a `[x](y)` inside a code block is not Markdown. */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | null = null;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence === null ? marker : null;
      continue;
    }
    if (fence === null) lines.push(line);
  }
  return lines;
}

/** GitHub's heading anchor: the rendered text, lower-cased, punctuation and symbols dropped, spaces turned into `-`. */
function slug(heading: string): string {
  const text = heading
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '');
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page offers, duplicates numbered as GitHub does (`-1`, `-2`, …). */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(read(file))) {
    const heading = /^#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The targets of the page's inline links and images, outside code. */
function linksOf(file: string): string[] {
  const prose = proseLines(read(file))
    .join('\n')
    .replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

describe('the docs', () => {
  it('computes anchors as GitHub does', () => {
    expect(slug('The `maestro` CLI')).toBe('the-maestro-cli');
    expect(slug('Never miss an event: the event log and replay')).toBe('never-miss-an-event-the-event-log-and-replay');
    expect(slug('Runner ⇄ server')).toBe('runner--server');
    expect(slug('Contract 3: where the new parts will live')).toBe('contract-3-where-the-new-parts-will-live');
    expect(slug('[Deployment](deployment.md), Docker & TLS')).toBe('deployment-docker--tls');
  });

  it.each(pages.map((file) => [relative(ROOT, file), file]))('%s: every relative link resolves', (_name, file) => {
    const broken: string[] = [];
    for (const link of linksOf(file)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto: — not ours to check offline
      const [path, anchor] = link.split('#', 2) as [string, string | undefined];
      const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) broken.push(`${link}: no such file`);
      else if (anchor !== undefined) {
        if (!target.endsWith('.md') || statSync(target).isDirectory()) broken.push(`${link}: an anchor into a file that is not Markdown`);
        else if (!anchorsOf(target).has(decodeURIComponent(anchor)))
          broken.push(`${link}: no heading "#${anchor}" in ${relative(ROOT, target)}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every page is listed in the README', () => {
    const fromReadme = new Set(linksOf(README).map((link) => join(ROOT, link.split('#')[0]!)));
    const unlisted = pages.filter((file) => file !== README && !fromReadme.has(file)).map((file) => relative(ROOT, file));
    expect(unlisted).toEqual([]);
  });
});

describe('the README', () => {
  const text = read(README);

  it('reads in two minutes: under 12 KB', () => {
    expect(Buffer.byteLength(text)).toBeLessThan(12 * 1024);
  });

  it('starts with the two commands a newcomer runs', () => {
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    expect(lines[0]).toMatch(/^# /);
    expect(lines[1]).toMatch(/^```(sh|bash|shell)$/);
    expect(lines[2]).toMatch(/^npm ci && npm start(\s|$)/);
    expect(lines[3]).toMatch(/^npm ci && npm test(\s|$)/);
    expect(lines[4]).toBe('```');
  });

  it('shows the dashboard', () => {
    expect(linksOf(README)).toContain('docs/dashboard.png');
  });
});

describe('docs/configuration.md', () => {
  it('lists every environment variable the server reads', () => {
    const table = read(join(DOCS, 'configuration.md'));
    const variables = [...read(join(ROOT, 'lib/config.ts')).matchAll(/text\(env, '([A-Z0-9_]+)'\)/g)].map((m) => m[1]!);
    expect(variables.length).toBeGreaterThan(10);
    expect(variables.filter((name) => !table.includes(`| \`${name}\` |`))).toEqual([]);
  });

  it('lists the variables the local runner and the agent presets read', () => {
    const table = read(join(DOCS, 'configuration.md'));
    const runner = readdirSync(join(ROOT, 'lib/runner')).map((f) => `lib/runner/${f}`);
    const sources = ['lib/start.ts', 'lib/domain/agents.ts', ...runner].map((f) => read(join(ROOT, f))).join('\n');
    const variables = new Set([...sources.matchAll(/\benv\.(MAESTRO_[A-Z0-9_]+)/g)].map((m) => m[1]!));
    expect(variables.size).toBeGreaterThan(3);
    expect([...variables].filter((name) => !table.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
