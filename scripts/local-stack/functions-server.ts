// Runs functions-gateway.ts in a real Deno process (the `deno` npm package) and waits until it listens.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { projectRoot } from "./config.ts";
import { isListening } from "./stack.ts";

export interface FunctionsServer {
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Where the functions' output goes: to a callback, line by line (tests read the logs), or straight
 * to this process's stdout ("inherit", as `npm start` shows it) or nowhere ("ignore", the
 * benchmark's choice). Straight through, no Node process reads a line per request: under load that
 * reading cost about 6 % of a 2-core machine (docs/performance.md).
 */
export type FunctionsOutput = ((line: string) => void) | "inherit" | "ignore";

/** `env` is what the functions see (SUPABASE_DB_URL, PORT, ...). Resolves once they listen on PORT. */
export async function serveFunctions(env: Record<string, string>, output: FunctionsOutput = "inherit") {
  const port = Number(env.PORT ?? 54321);
  // Without their output, readiness is judged by the port: it must not be someone else's.
  if (typeof output !== "function" && port && await isListening(port)) {
    throw new Error(`port ${port} is in use: is the stack (or \`supabase start\`) already running?`);
  }
  const deno = spawn(path.join(projectRoot, "node_modules/.bin/deno"), [
    "run",
    "--config=functions/deno.json",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "scripts/local-stack/functions-gateway.ts",
  ], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", typeof output === "function" ? "pipe" : output, "inherit"],
  });
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
    deno.once("exit", (code) => reject(new Error(`the functions server exited with code ${code}`)));
    if (typeof output === "function") {
      createInterface({ input: deno.stdout! }).on("line", (line) => {
        if (line.startsWith("functions listening")) resolve(server);
        output(line);
      });
    } else {
      void whenListening(port, deno).then(() => resolve(server), reject);
    }
  });
}

/** Waits until the functions accept connections on `port`, or their process has exited. */
async function whenListening(port: number, deno: ChildProcess): Promise<void> {
  while (deno.exitCode === null && deno.signalCode === null) {
    if (await isListening(port)) return;
    await new Promise((wait) => setTimeout(wait, 25));
  }
}
