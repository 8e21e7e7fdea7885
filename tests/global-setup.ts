// One throwaway PostgreSQL cluster for the whole run, with a template database built from the
// bootstrap and the migrations. Each test file clones the template (CREATE DATABASE ... TEMPLATE),
// so files run in parallel on isolated databases.
import { exportJWK, generateKeyPair } from "jose";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startCluster } from "../scripts/local-stack/cluster.ts";
import { functionsDatabaseUrl } from "../scripts/local-stack/config.ts";
import { prepareDatabase, recreateDatabase } from "../scripts/local-stack/database.ts";
import { serveFunctions } from "../scripts/local-stack/functions-server.ts";
import { freePort } from "../scripts/local-stack/throwaway.ts";

declare module "vitest" {
  export interface ProvidedContext {
    clusterUrl: string;
    templateDatabase: string;
    /** The functions gateway (real Deno), serving /functions/v1/<name>. */
    apiUrl: string;
    /** The database the functions gateway uses (as postgres: the functions log in as edge_functions). */
    functionsDbUrl: string;
    /** Every line the functions printed, one file for the run. */
    functionsLogFile: string;
    /** A private ES256 key whose public half the functions trust through SUPABASE_JWKS. */
    asymmetricSigningKey: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(tmpdir(), "agent-chat-test-"));
  const cluster = await startCluster({ dataDir: path.join(dir, "data"), port: await freePort(), unsafeFast: true });
  const templateDatabase = "agent_chat_template";
  const templateUrl = new URL(cluster.url);
  templateUrl.pathname = `/${templateDatabase}`;
  await recreateDatabase(templateUrl.toString());
  await prepareDatabase(templateUrl.toString());

  const functionsDbUrl = new URL(cluster.url);
  functionsDbUrl.pathname = "/functions_e2e";
  await recreateDatabase(functionsDbUrl.toString(), templateDatabase);

  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = { ...await exportJWK(publicKey), kid: "test-es256", alg: "ES256", use: "sig" };
  const port = await freePort();
  const functionsLogFile = path.join(dir, "functions.log");
  const log = createWriteStream(functionsLogFile);
  const functions = await serveFunctions({
    PORT: String(port),
    SUPABASE_URL: `http://127.0.0.1:${port}`,
    // The functions log in as their own role; the tests look at what they wrote as postgres.
    SUPABASE_DB_URL: functionsDatabaseUrl(functionsDbUrl.toString()),
    SUPABASE_JWKS: JSON.stringify({ keys: [publicJwk] }),
    // The fan-out tests follow one chat 200 times as one user; the cap has its own test (follow-limits).
    FOLLOW_MAX_STREAMS_PER_ACCOUNT: "10000",
  }, (line) => log.write(line + "\n"));

  project.provide("clusterUrl", cluster.url);
  project.provide("templateDatabase", templateDatabase);
  project.provide("apiUrl", `http://127.0.0.1:${port}`);
  project.provide("functionsDbUrl", functionsDbUrl.toString());
  project.provide("functionsLogFile", functionsLogFile);
  project.provide("asymmetricSigningKey", JSON.stringify({ ...await exportJWK(privateKey), kid: "test-es256" }));
  return async () => {
    await functions.stop();
    log.end();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
