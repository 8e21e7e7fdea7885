// npm run db:reset: what `supabase db reset` does, for the local stack: drop the database, recreate
// it, bootstrap what Supabase provides, apply every migration, run supabase/seed.sql. Works whether
// or not `npm start` is running (its function server reconnects on its own).
import { databaseUrl } from "./local-stack/config.ts";
import { resetDatabase } from "./local-stack/database.ts";
import { openCluster } from "./local-stack/stack.ts";

const started = performance.now();
const cluster = await openCluster();
try {
  console.log(`resetting ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname} ...`);
  for (const file of await resetDatabase(cluster.url)) console.log(`applied ${file}`);
  console.log("seeded supabase/seed.sql");
  console.log(`database reset in ${Math.round(performance.now() - started)} ms`);
} finally {
  await cluster.stop();
}
