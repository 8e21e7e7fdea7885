import { defineConfig } from "vitest/config";

export default defineConfig({
  // The documented React component (tests/readme/use-chat.test.ts) uses React's automatic JSX runtime.
  esbuild: { jsx: "automatic" },
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
