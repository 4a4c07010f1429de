import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once: process-level tests run the compiled server and CLI, as a user would.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    /*
     * expect.poll without a timeout of its own waits for other processes (a runner coming online, a page catching up):
     * vitest's default of 1 s is a quiet machine's; a loaded 2-core one needs several. A poll that holds returns at once.
     */
    expect: { poll: { timeout: 10_000 } },
    /*
     * Most test files spend their time waiting on other processes (servers, runners, tmux, Chromium, PostgreSQL), not
     * on their own CPU: twice as many files at once as there are cores. vitest's default (cores − 1) runs them one
     * after another on a 2-core machine.
     */
    maxWorkers: Math.max(2, availableParallelism() * 2),
    sequence: { sequencer: LongestFirst },
  },
});
