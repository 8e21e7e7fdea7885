// npm run purge [-- --older-than '30 days' --batch-size 100]: retention for the local stack, what the
// pg_cron job does on hosted Supabase (README, "Retention"). Calls public.purge_archived as the
// service role, one batch per transaction so every lock stays short, until it says there is no more,
// and prints each batch. Uses the running local stack's database, DATABASE_URL, or starts the
// embedded cluster for the run.
import { parseArgs } from "node:util";
import { databaseUrl } from "./local-stack/config.ts";
import { connect } from "./local-stack/database.ts";
import { openCluster } from "./local-stack/stack.ts";

const { values } = parseArgs({
  options: {
    "older-than": { type: "string", default: "30 days" },
    // 100, not the function's 1000: shorter batches keep concurrent appends' p99 low on a small machine.
    "batch-size": { type: "string", default: "100" },
  },
});
const olderThan = values["older-than"];
const batchSize = Number(values["batch-size"]);

interface Batch {
  chats: number;
  sessions: number;
  more: boolean;
}

const started = performance.now();
const cluster = await openCluster();
const sql = connect(cluster.url);
try {
  console.log(
    `purging chats archived and idle for more than ${olderThan}, and empty idle sessions, ` +
      `in batches of ${batchSize} (${new URL(databaseUrl).host}) ...`,
  );
  const total = { chats: 0, sessions: 0, batches: 0 };
  for (let more = true; more;) {
    const batchStarted = performance.now();
    const batch = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'service_role', true),
                      set_config('request.jwt.claims', '{"role": "service_role"}', true)`;
      const [{ result }] = await tx`select public.purge_archived(${olderThan}::interval, ${batchSize}) as result`;
      return result as Batch;
    });
    more = batch.more;
    total.batches++;
    total.chats += batch.chats;
    total.sessions += batch.sessions;
    console.log(
      `batch ${total.batches}: ${batch.chats} chats, ${batch.sessions} sessions ` +
        `(${Math.round(performance.now() - batchStarted)} ms)`,
    );
  }
  console.log(
    `purged ${total.chats} chats and ${total.sessions} sessions in ${total.batches} ` +
      `${total.batches === 1 ? "batch" : "batches"}, ${Math.round(performance.now() - started)} ms`,
  );
} catch (error) {
  console.error(`purge failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await sql.end();
  await cluster.stop();
}
