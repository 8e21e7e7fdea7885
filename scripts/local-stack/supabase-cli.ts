// The Supabase CLI from npm (no Docker), pointed at a database URL: gen types, migration up/list,
// db advisors and inspect db all take --remote=<url>.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "./config.ts";

const run = promisify(execFile);

/** The CLI's --remote value for `url`: without sslmode=disable it prints a TLS notice into its output. */
export function remote(url: string): string {
  const target = new URL(url);
  target.searchParams.set("sslmode", "disable");
  return `--remote=${target}`;
}

/** Runs the CLI; rejects with its output when it exits non-zero. */
export function supabaseCli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(path.join(projectRoot, "node_modules/.bin/supabase"), args, { cwd: projectRoot, maxBuffer: 16 << 20 });
}
