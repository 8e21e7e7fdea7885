// A stack of its own for tests that break things: its own PostgreSQL cluster (durable settings) and
// its own functions server, so stopping or killing them touches no other test.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Cluster, startCluster } from "../../scripts/local-stack/cluster.ts";
import { bootstrap, connect, migrate } from "../../scripts/local-stack/database.ts";
import { type FunctionsServer, serveFunctions } from "../../scripts/local-stack/functions-server.ts";
import { freePort } from "../global-setup.ts";

export async function isolatedStack(env: Record<string, string> = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), "agent-chat-faults-"));
  const dataDir = path.join(dir, "data");
  const dbPort = await freePort(), apiPort = await freePort();
  const postgresLog: string[] = [];
  const onLog = (line: string) => void postgresLog.push(line);
  let cluster: Cluster = await startCluster({ dataDir, port: dbPort, onLog });
  const sql = connect(cluster.url, { max: 4 });
  await bootstrap(sql);
  await migrate(sql);

  const logs: string[] = [];
  const serve = () =>
    serveFunctions({
      PORT: String(apiPort),
      SUPABASE_URL: `http://127.0.0.1:${apiPort}`,
      SUPABASE_DB_URL: cluster.url,
      DB_CONNECT_TIMEOUT_S: "2",
      ...env,
    }, (line) => logs.push(line));
  let functions: FunctionsServer = await serve();

  return {
    sql,
    /** What the functions printed. */
    logs,
    /** What PostgreSQL logged. */
    postgresLog,
    apiUrl: `http://127.0.0.1:${apiPort}`,
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
