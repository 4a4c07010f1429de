/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/** The browser side of the dashboard tests: one Chromium per file, the built dashboard, pages that record errors. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT, type TestServer, tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
/** A change must reach an open page within this (seed 003). */
export const LIVE_MS = 2000;

const newest = (dir: string): number =>
  Math.max(
    ...readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => statSync(join(e.parentPath, e.name)).mtimeMs),
  );

/** Builds the dashboard when ui/ changed since the last build, then starts Chromium (without it the tests fail). */
export async function launchBrowser(): Promise<Browser> {
  const built = join(ROOT, 'dist/ui/index.html');
  if (!existsSync(built) || statSync(built).mtimeMs < newest(join(ROOT, 'ui'))) {
    const vite = join(createRequire(import.meta.url).resolve('vite/package.json'), '../bin/vite.js');
    execFileSync(process.execPath, [vite, 'build', '-c', 'ui/vite.config.ts'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: install it with "apt-get install -y chromium"`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

export interface Watched {
  page: Page;
  /** Console errors and page errors so far, less those `forgive` matches. */
  problems(forgive?: RegExp): string[];
  /** WebSocket connections the page opened to `/ws`. */
  sockets: string[];
}

/** Opens the dashboard at `hash` and records what must not happen. */
export async function openPage(
  browser: Browser,
  server: TestServer,
  hash = '',
  options: { waitLive?: boolean; width?: number; permissions?: string[] } = {},
): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: options.width ?? 1400, height: 900 }, permissions: options.permissions });
  const raw: string[] = [];
  const sockets: string[] = [];
  page.on('console', (m) => m.type() === 'error' && raw.push(`${m.text()} (${m.location().url})`));
  page.on('pageerror', (e) => raw.push(`page error: ${e.message}`));
  page.on('websocket', (ws) => new URL(ws.url()).pathname === '/ws' && sockets.push(ws.url()));
  await page.goto(`${server.url}/${hash}`);
  if (options.waitLive !== false) await live(page);
  return { page, sockets, problems: (forgive) => raw.filter((p) => !forgive?.test(p)) };
}

/** Waits for the connection indicator to say the page is live. */
export const live = (page: Page, timeout = 5000) => page.getByRole('status', { name: 'Connection: Live' }).waitFor({ timeout });

export const column = (page: Page, name: string) => page.getByRole('region', { name: new RegExp(`^${name} \\(`) });

export async function makeProject(server: TestServer, name = 'Shop', headers?: Record<string, string>) {
  const answer = await server.call('POST', '/api/projects', { name, workingDir: tempDir('maestro-ui-wd-') }, headers);
  return answer.body as { id: string; name: string };
}
