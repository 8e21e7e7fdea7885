// Runs before `npm start` and `npm test` (npm's pre-scripts): on a fresh clone, or after
// package-lock.json changed, install exactly the locked dependencies with `npm ci`, so the README's
// two commands are all a newcomer needs. Plain JavaScript because it runs before TypeScript tooling
// exists.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const installed = "node_modules/.package-lock.json";
const stale = !existsSync(installed) || statSync("package-lock.json").mtimeMs > statSync(installed).mtimeMs;
if (stale) {
  console.log("installing the locked dependencies (npm ci) ...");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}
