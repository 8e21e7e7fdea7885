// Workload 5: start-up times of the commands a developer runs, in a temporary data folder so the
// developer's own data is untouched: `npm start` cold (no data folder) and warm, and `npm run db:reset`.
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { projectRoot } from "../local-stack/config.ts";
import { isListening } from "../local-stack/stack.ts";

function npmStartUntilReady(dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("npm", ["start"], {
      cwd: projectRoot,
      env: { ...process.env, SUPABASE_LOCAL_DIR: dataDir },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr.on("data", (chunk) => (output += chunk));
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (output.includes("Press Ctrl-C")) {
        const seconds = (performance.now() - started) / 1000;
        child.once("exit", () => resolve(seconds));
        process.kill(-child.pid!, "SIGTERM");
      }
    });
    child.once(
      "exit",
      (code) => !output.includes("Press Ctrl-C") && reject(new Error(`npm start exited ${code}:\n${output}`)),
    );
  });
}

export interface Startup {
  cold: number[];
  warm: number[];
  dbReset: number[];
}

/** Three of each; null when the standard ports are taken (a stack is already running). */
export async function measureStartup(rounds = 3): Promise<Startup | null> {
  if (await isListening(54321) || await isListening(54322)) return null;
  const result: Startup = { cold: [], warm: [], dbReset: [] };
  for (let i = 0; i < rounds; i++) {
    const dir = await mkdtemp(path.join(tmpdir(), "agent-chat-startup-"));
    await chmod(dir, 0o755); // PostgreSQL runs as the postgres OS user when we are root
    try {
      const dataDir = path.join(dir, "state");
      result.cold.push(await npmStartUntilReady(dataDir));
      result.warm.push(await npmStartUntilReady(dataDir));
      const started = performance.now();
      const reset = spawnSync("npm", ["run", "db:reset"], {
        cwd: projectRoot,
        env: { ...process.env, SUPABASE_LOCAL_DIR: dataDir },
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
