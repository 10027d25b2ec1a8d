/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The local gateway (deploy/local/gateway.py) listens here and routes API paths like Traefik does.
const gateway = process.env.SPROUT_GATEWAY ?? 'http://127.0.0.1:8080';
const apiPaths = ['/captcha', '/containers', '/rate-limit'];

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: gateway, changeOrigin: false }])),
  },
  preview: {
    proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: gateway, changeOrigin: false }])),
  },
  build: {
    target: 'es2020',
    sourcemap: false,
    // terser packs the first load a few KB smaller than esbuild's minifier.
    minify: 'terser',
    terserOptions: { compress: { passes: 2 } },
    // Every browser the page supports has <link rel=modulepreload>: no polyfill in the first load.
    modulePreload: { polyfill: false },
    // Two pages: the app, and what a container's address shows when no container answers there
    // (no script: the servers pick its case, see address.html). The address page's stylesheet
    // inlines the app's (src/address.css), so the app's chunks stay as they were; the two are
    // the same bytes, and Vite emits them as one file.
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        address: fileURLToPath(new URL('./address.html', import.meta.url)),
      },
    },
  },
  worker: { format: 'es' },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/testing/setup-tests.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    unstubGlobals: true,
    testTimeout: 15000,
  },
});
