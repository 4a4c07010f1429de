/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';
import { launchBrowser, openPage } from './ui-browser.js';

/** Rough edges a review in Chromium found: what the page says, where it puts focus, how it is laid out. */
let browser: Browser;
beforeAll(async () => void (browser = await launchBrowser()), 120_000);
afterAll(() => browser?.close());

const box = async (page: Page, selector: string) => (await page.locator(selector).first().boundingBox())!;

describe('dashboard polish', { timeout: 60_000 }, () => {
  it('lays the People page out like the other pages: text under the heading, the form on the left', async () => {
    // A server of its own, so the Projects page says "No projects yet." right under its heading, as People does.
    const { page, problems } = await openPage(browser, await startTestServer(), '#/');
    await page.getByText('No projects yet.').waitFor();
    const projectsGap = (await box(page, 'main h1 + p')).y - (await box(page, 'main h1')).y;
    await page.getByRole('link', { name: 'People' }).click();
    await page.getByRole('heading', { name: 'People', level: 1 }).waitFor();
    const heading = await box(page, 'main h1');
    expect((await box(page, 'main h1 + p')).y - heading.y).toBeCloseTo(projectsGap, 0);
    const form = page.getByRole('form', { name: 'Create a token' });
    expect((await form.getByLabel('Name').boundingBox())!.x).toBeCloseTo(heading.x, 0);
    const button = (await form.getByRole('button', { name: 'Create token' }).boundingBox())!;
    expect(button.x + button.width).toBeLessThan(page.viewportSize()!.width / 2);
    expect(problems()).toEqual([]);
    await page.close();
  });
});
