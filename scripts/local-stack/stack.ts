// The local stack's database side: the embedded cluster (or DATABASE_URL), brought up to date.
import net from "node:net";
import path from "node:path";
import { databaseUrl, dbPort, host, stateDir } from "./config.ts";
import { bootstrap, connect, migrate, seed } from "./database.ts";
import { type Cluster, startCluster } from "./cluster.ts";

export const dataDir = path.join(stateDir, "data");

/** True when something accepts TCP connections on host:port. */
export function isListening(port: number, onHost = host): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: onHost });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts the embedded cluster unless DATABASE_URL names another PostgreSQL or the local cluster is
 * already up (then `stop` leaves it running).
 */
export async function openCluster(): Promise<Cluster> {
  if (process.env.DATABASE_URL || await isListening(dbPort)) {
    return { url: databaseUrl, created: false, stop: async () => {} };
  }
  return startCluster({ dataDir, port: dbPort });
}

export interface Prepared {
  /** The bootstrap created the Supabase roles and auth schema (a new database). */
  bootstrapped: boolean;
  migrated: string[];
  seeded: boolean;
}

/**
 * Brings the platform bootstrap up to date, applies pending migrations, and seeds on the first run
 * (no migration recorded yet). The bootstrap is idempotent and runs on every start, so a database
 * made by an older version of it gains what newer migrations rely on; it is skipped on a database
 * that has Supabase's own auth schema (one started by the Supabase CLI), which must not be touched.
 */
export async function prepareDatabase(url: string): Promise<Prepared> {
  const sql = connect(url);
  try {
    const [{ hasAuth, isSupabase, hasHistory }] = await sql`
      select to_regprocedure('auth.uid()') is not null as "hasAuth",
             to_regclass('auth.users') is not null as "isSupabase",
             to_regclass('supabase_migrations.schema_migrations') is not null as "hasHistory"`;
    const firstRun = !hasHistory ||
      (await sql`select count(*)::int as n from supabase_migrations.schema_migrations`)[0].n === 0;
    if (!isSupabase) await bootstrap(sql);
    const migrated = await migrate(sql);
    if (firstRun) await seed(sql);
    return { bootstrapped: !isSupabase && !hasAuth, migrated, seeded: firstRun };
  } finally {
    await sql.end();
  }
}
