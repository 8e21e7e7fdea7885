// A stack of its own in a temporary folder: its own PostgreSQL cluster and functions server on free
// ports. Tests that break things and the benchmark use it, so they touch no one else's data.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Cluster, startCluster } from "./cluster.ts";
import { connect, prepareDatabase } from "./database.ts";
import { type FunctionsServer, serveFunctions } from "./functions-server.ts";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    }).on("error", reject);
  });
}

export type ThrowawayStack = Awaited<ReturnType<typeof throwawayStack>>;

/**
 * `env` goes to the functions (DB_POOL_MAX, DB_LOCK_TIMEOUT, ...). Their output is kept in `logs`
 * unless `keepLogs` is false (the benchmark: output discarded, as a terminal would take it).
 */
export async function throwawayStack(env: Record<string, string> = {}, { keepLogs = true } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), "agent-chat-stack-"));
  const dataDir = path.join(dir, "data");
  const dbPort = await freePort(), apiPort = await freePort();
  const postgresLog: string[] = [];
  const onLog = (line: string) => void postgresLog.push(line);
  let cluster: Cluster = await startCluster({ dataDir, port: dbPort, onLog });
  const { functionsUrl } = await prepareDatabase(cluster.url);
  const sql = connect(cluster.url, { max: 4 });

  const logs: string[] = [];
  const serve = () =>
    serveFunctions({
      PORT: String(apiPort),
      SUPABASE_URL: `http://127.0.0.1:${apiPort}`,
      SUPABASE_DB_URL: functionsUrl,
      DB_CONNECT_TIMEOUT_S: "2",
      ...env,
    }, keepLogs ? (line) => logs.push(line) : "ignore");
  let functions: FunctionsServer = await serve();

  return {
    sql,
    databaseUrl: cluster.url,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    /** What the functions printed. */
    logs,
    /** What PostgreSQL logged. */
    postgresLog,
    /** The running cluster's postmaster (the first line of its postmaster.pid). */
    postmasterPid: () => Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]),
    get functions() {
      return functions;
    },
    async stopPostgres() {
      await cluster.stop();
    },
    async startPostgres() {
      cluster = await startCluster({ dataDir, port: dbPort, onLog });
    },
    async restartFunctions() {
      functions = await serve();
    },
    async stop() {
      await sql.end({ timeout: 1 });
      await functions.stop();
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
