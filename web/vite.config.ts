/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The bundle is committed inside the Python package: `grace serve` serves it with no Node.js.
const outDir = process.env.GRACE_WEB_OUT ?? fileURLToPath(new URL('../src/grace_chat/web_dist', import.meta.url));

export default defineConfig({
  plugins: [react()],
  // Relative asset paths: the chat works wherever it is mounted (see src/apiBase.ts).
  base: './',
  build: { outDir, emptyOutDir: true, sourcemap: false, reportCompressedSize: true },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
