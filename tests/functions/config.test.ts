// functions/_shared/config.ts: every environment variable is checked when a function starts, and a
// value that makes no sense stops it with a message naming the variable (a non-numeric
// MAX_BODY_BYTES used to turn the body limit off).
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";
import { serveFunctions } from "../../scripts/local-stack/functions-server.ts";
import { freePort } from "../../scripts/local-stack/throwaway.ts";

const bad = {
  MAX_BODY_BYTES: "1MB",
  DB_POOL_MAX: "many",
  DB_CONNECT_TIMEOUT_S: "-1",
  DB_STATEMENT_TIMEOUT: "5 seconds",
  DB_LOCK_TIMEOUT: "0s",
  REQUEST_BODY_TIMEOUT_MS: "0",
  SUPABASE_DB_URL: "localhost:5432",
  SUPABASE_JWKS: "{not json",
  SUPABASE_JWKS_URL: "ftp://example.com/jwks",
};

it("a function started with invalid settings exits at once, naming each one and its value", async () => {
  const deno = path.join(projectRoot, "node_modules/.bin/deno");
  const args = ["run", "--config=functions/deno.json", "--allow-env", "--allow-net", "--allow-read"];
  const failure = await promisify(execFile)(deno, [...args, "functions/mark-read/index.ts"], {
    cwd: projectRoot,
    env: { ...process.env, NO_COLOR: "1", ...bad },
    timeout: 20_000,
  }).then(() => undefined, (error: { code?: number; stderr?: string }) => error);
  expect(failure?.code).toBe(1);
  expect(failure?.stderr).toContain("invalid configuration of the functions");
  for (const [name, value] of Object.entries(bad)) {
    expect(failure?.stderr).toContain(name);
    if (!["SUPABASE_DB_URL", "SUPABASE_JWKS", "SUPABASE_JWKS_URL"].includes(name)) {
      expect(failure?.stderr).toContain(JSON.stringify(value)); // the value as given, where it is no secret
    }
  }
});

it("the local gateway refuses to start with a non-numeric MAX_BODY_BYTES or connection limit", async () => {
  const settings: Record<string, string>[] = [
    { MAX_BODY_BYTES: "1MB" },
    { GATEWAY_IDLE_TIMEOUT_MS: "soon" },
    { GATEWAY_HEADER_TIMEOUT_MS: "0" },
  ];
  for (const env of settings) {
    const port = await freePort();
    await expect(serveFunctions({ PORT: String(port), ...env }, () => {}), JSON.stringify(env)).rejects.toThrow(
      /exited with code 1/,
    );
  }
});
