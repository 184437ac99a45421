// The studio web app: built into dist/web, which `lora-scripts serve` serves (src/server/routes/web-app.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  // Preact's automatic JSX runtime through Vite's own transform: no Babel, no plugin.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    // `vite --config web/vite.config.ts` during development, with `lora-scripts serve` on its default port.
    proxy: { '/api': 'http://127.0.0.1:6008' },
  },
});
