import { defineConfig } from "vitest/config";

// npm run test:browser: the chat UI (examples/chat-ui) in headless Chromium, Debian's /usr/bin/chromium
// (CHROMIUM_PATH elsewhere). Its tests start their own stack, worker and UI server, so there is no
// global setup; `npm test` leaves them out (its files end in .test.ts).
export default defineConfig({
  test: {
    include: ["tests/browser/**/*.browser.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
