// Runs functions-gateway.ts in a real Deno process (the `deno` npm package) and waits until it listens.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { projectRoot } from "./config.ts";

export interface FunctionsServer {
  process: ChildProcess;
  stop(): Promise<void>;
}

/** `env` is what the functions see (SUPABASE_DB_URL, ...); `onLine` gets every line they print. */
export function serveFunctions(env: Record<string, string>, onLine = (line: string) => console.log(line)) {
  const deno = spawn(path.join(projectRoot, "node_modules/.bin/deno"), [
    "run",
    "--config=functions/deno.json",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "scripts/local-stack/functions-gateway.ts",
  ], { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise<FunctionsServer>((resolve, reject) => {
    const server: FunctionsServer = {
      process: deno,
      stop: () =>
        new Promise((done) => {
          if (deno.exitCode !== null || deno.signalCode !== null) return done();
          deno.once("exit", () => done());
          deno.kill("SIGTERM");
        }),
    };
    createInterface({ input: deno.stdout! }).on("line", (line) => {
      if (line.startsWith("functions listening")) resolve(server);
      onLine(line);
    });
    deno.once("exit", (code) => reject(new Error(`the functions server exited with code ${code}`)));
  });
}
