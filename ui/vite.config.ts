import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const OUT = fileURLToPath(new URL('../dist/ui', import.meta.url));

/**
 * The API explorer of `/api/docs` (§19): Swagger UI's prebuilt bundle, copied into the package next to the dashboard
 * (dist/ui/explorer/, with ui/public/explorer/init.js), so it works offline and an install needs no extra dependency.
 */
function apiExplorer(): Plugin {
  const from = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  return {
    name: 'maestro-api-explorer',
    apply: 'build',
    closeBundle() {
      mkdirSync(join(OUT, 'explorer'), { recursive: true });
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE'])
        copyFileSync(join(from, file), join(OUT, 'explorer', file === 'LICENSE' ? 'LICENSE.txt' : file));
    },
  };
}

// The dashboard (contract §19): built into dist/ui/ and served by the server under /ui/, with GET / answering its page.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  logLevel: 'warn',
  plugins: [apiExplorer()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: OUT,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
});
