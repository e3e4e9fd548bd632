/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The bundle is committed inside the Python package: `grace serve` serves it with no Node.js.
const outDir = process.env.GRACE_WEB_OUT ?? fileURLToPath(new URL('../src/grace_chat/web_dist', import.meta.url));
const client = (entry: string) => fileURLToPath(new URL(`./packages/client/src/${entry}`, import.meta.url));

export default defineConfig({
  plugins: [react()],
  // The chat imports the npm package by name, as its users do; here it is built from source
  // (tsconfig.json maps the same names), so no separate build of the package comes first.
  resolve: {
    alias: [
      { find: /^grace-chat-client\/react$/, replacement: client('react.ts') },
      { find: /^grace-chat-client$/, replacement: client('index.ts') },
    ],
  },
  // Relative asset paths: the chat works wherever it is mounted (see the client package's apiBase.ts).
  base: './',
  build: { outDir, emptyOutDir: true, sourcemap: false, reportCompressedSize: true },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}', 'packages/*/src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
