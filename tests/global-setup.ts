// One throwaway PostgreSQL cluster for the whole run, with a template database built from the
// bootstrap and the migrations. Each test file clones the template (CREATE DATABASE ... TEMPLATE),
// so files run in parallel on isolated databases.
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startCluster } from "../scripts/local-stack/cluster.ts";
import { bootstrap, connect, migrate, recreateDatabase } from "../scripts/local-stack/database.ts";

declare module "vitest" {
  export interface ProvidedContext {
    clusterUrl: string;
    templateDatabase: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    }).on("error", reject);
  });
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(tmpdir(), "agent-chat-test-"));
  const cluster = await startCluster({ dataDir: path.join(dir, "data"), port: await freePort(), unsafeFast: true });
  const templateDatabase = "agent_chat_template";
  const templateUrl = new URL(cluster.url);
  templateUrl.pathname = `/${templateDatabase}`;
  await recreateDatabase(templateUrl.toString());
  const sql = connect(templateUrl.toString());
  await bootstrap(sql);
  await migrate(sql);
  await sql.end();

  project.provide("clusterUrl", cluster.url);
  project.provide("templateDatabase", templateDatabase);
  return async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
