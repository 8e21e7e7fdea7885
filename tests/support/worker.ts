// The example worker (npm run worker) as the tests run it, and the polling wait its tests share.
import { type ChildProcess, spawn } from "node:child_process";
import { projectRoot } from "../../scripts/local-stack/config.ts";

/**
 * Starts examples/agent-worker against `stack` in one process (node with tsx's loader), so that
 * killing it kills the worker, not a wrapper. It heartbeats every 300 ms; `env` adds or overrides
 * settings (MOCK_CHUNK_DELAY_MS, RUNNER_ID, ...). WORKER_LOG=1 shows what it prints.
 */
export function startWorker(stack: { apiUrl: string; databaseUrl: string }, env: Record<string, string> = {}) {
  return spawn(process.execPath, ["--import", "tsx", "examples/agent-worker/worker.ts"], {
    cwd: projectRoot,
    env: {
      ...process.env,
      SUPABASE_URL: stack.apiUrl,
      WORKER_LISTEN_URL: stack.databaseUrl,
      HEARTBEAT_MS: "300",
      ...env,
    },
    stdio: ["ignore", process.env.WORKER_LOG ? "inherit" : "ignore", "inherit"],
  }) as ChildProcess;
}

/** Reads until `done` holds for what was read, every `everyMs`; throws with the last value after `timeoutMs`. */
export async function until<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  { timeoutMs = 30_000, everyMs = 20 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
