// Workload 5: start-up times of the commands a developer runs, in a temporary data folder and on free
// ports so the developer's own stack and data are untouched: `npm start` cold (no data folder) and
// warm, and `npm run db:reset`.
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { projectRoot } from "../scripts/local-stack/config.ts";
import { freePort } from "../scripts/local-stack/throwaway.ts";

function npmStartUntilReady(env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("npm", ["start"], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let ready = false;
    child.stderr.on("data", (chunk) => (output += chunk));
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (ready || !output.includes("Press Ctrl-C")) return;
      ready = true; // stop it once: what it prints while stopping must not signal a group that is gone
      const seconds = (performance.now() - started) / 1000;
      child.once("exit", () => resolve(seconds));
      process.kill(-child.pid!, "SIGTERM");
    });
    child.once("exit", (code) => !ready && reject(new Error(`npm start exited ${code}:\n${output}`)));
  });
}

export interface Startup {
  cold: number[];
  warm: number[];
  dbReset: number[];
}

/** `rounds` of each. */
export async function measureStartup(rounds = 3): Promise<Startup> {
  const result: Startup = { cold: [], warm: [], dbReset: [] };
  for (let i = 0; i < rounds; i++) {
    const dir = await mkdtemp(path.join(tmpdir(), "agent-chat-startup-"));
    await chmod(dir, 0o755); // PostgreSQL runs as the postgres OS user when we are root
    try {
      const env = {
        SUPABASE_LOCAL_DIR: path.join(dir, "state"),
        API_PORT: String(await freePort()),
        DB_PORT: String(await freePort()),
      };
      result.cold.push(await npmStartUntilReady(env));
      result.warm.push(await npmStartUntilReady(env));
      const started = performance.now();
      const reset = spawnSync("npm", ["run", "db:reset"], {
        cwd: projectRoot,
        env: { ...process.env, ...env },
        stdio: "ignore",
      });
      if (reset.status !== 0) throw new Error("npm run db:reset failed");
      result.dbReset.push((performance.now() - started) / 1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return result;
}
