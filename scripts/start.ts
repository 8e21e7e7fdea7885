// npm start: the local Supabase stack for this project, without Docker. Boots PostgreSQL 15 (or uses
// DATABASE_URL), brings the database up to date, serves the edge functions in a real Deno process,
// prints what `supabase start` prints, and stays up until Ctrl-C / SIGTERM.
import path from "node:path";
import {
  apiKeys,
  apiPort,
  apiUrl,
  databaseUrl,
  dbPort,
  demoAccountId,
  jwtSecret,
  projectRoot,
  userJwt,
} from "./local-stack/config.ts";
import { type Cluster, startCluster } from "./local-stack/cluster.ts";
import { type FunctionsServer, serveFunctions } from "./local-stack/functions-server.ts";
import { prepareDatabase } from "./local-stack/database.ts";
import { dataDir, isListening } from "./local-stack/stack.ts";

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

async function openDatabase(): Promise<Cluster> {
  if (process.env.DATABASE_URL) return { url: databaseUrl, created: false, stop: async () => {} };
  if (await isListening(dbPort)) {
    throw new Error(`port ${dbPort} is in use: is the stack (or \`supabase start\`) already running?`);
  }
  console.log(`starting PostgreSQL 15 on 127.0.0.1:${dbPort} (${path.relative(projectRoot, dataDir)})`);
  return startCluster({ dataDir, port: dbPort });
}

const cluster = await openDatabase();
let functions: FunctionsServer | undefined;
let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping ...");
  await functions?.stop();
  await cluster.stop();
  console.log("stopped");
  process.exit(code);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

try {
  const prepared = await prepareDatabase(cluster.url, { seed: true });
  if (prepared.bootstrapped) console.log("bootstrapped the Supabase roles and auth schema");
  for (const file of prepared.migrated) console.log(`applied ${file}`);
  if (prepared.seeded) console.log("seeded supabase/seed.sql");
  if (prepared.functionsUrl === cluster.url) {
    console.log(`the functions connect as ${new URL(cluster.url).username}: this database has no edge_functions role`);
  }

  const { anonKey, serviceRoleKey } = await apiKeys();
  functions = await serveFunctions({
    PORT: String(apiPort),
    SUPABASE_URL: apiUrl,
    SUPABASE_ANON_KEY: anonKey,
    SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    SUPABASE_DB_URL: prepared.functionsUrl,
    SUPABASE_JWT_SECRET: jwtSecret,
  });
  functions.process.once("exit", (code) => {
    if (stopping) return;
    console.error(`the functions server exited (${code})`);
    void stop(1);
  });

  const demoJwt = await userJwt(demoAccountId, 365 * 24 * 3600);
  console.log(`
Started the local stack in ${elapsed()}.

         API URL: ${apiUrl}
   Functions URL: ${apiUrl}/functions/v1
          DB URL: ${cluster.url}
      JWT secret: ${jwtSecret}
        anon key: ${anonKey}
service_role key: ${serviceRoleKey}
  demo user JWT: ${demoJwt}
                  (account ${demoAccountId}, owner of the seeded demo-session / demo-chat)

Press Ctrl-C to stop.`);
} catch (error) {
  console.error(error);
  await stop(1);
}
