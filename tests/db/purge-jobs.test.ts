// The two ways retention runs: `npm run purge` on the local stack, and the pg_cron job the README
// gives for hosted Supabase (its `do` block, run here as pg_cron runs it: one top-level statement).
// Both call purge_archived until it says there is no more, one batch per transaction.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { projectRoot } from "../../scripts/local-stack/config.ts";
import { useTestDatabase } from "../support/db.ts";
import { makeAccount, makeChat, makeSession } from "../support/factories.ts";

const { sql, url } = await useTestDatabase();

/** A session with `count` chats archived and idle for 40 days, and one live chat that stays. */
async function archivedChats(count: number) {
  const session = await makeSession(sql, await makeAccount(sql));
  const kept = await makeChat(sql, session.id);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await makeChat(sql, session.id)).id);
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`update chats set archived_at = now() - interval '40 days', updated_at = now() - interval '40 days'
              where id in ${tx(ids)}`;
  });
  return { ids, kept: kept.id as string };
}
const remaining = async (ids: string[]) =>
  (await sql`select count(*)::int as n from chats where id in ${sql(ids)}`)[0].n;

it("npm run purge calls purge_archived until more is false and prints each batch", async () => {
  const { ids, kept } = await archivedChats(5);
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      path.join(projectRoot, "node_modules/.bin/tsx"),
      ["scripts/purge.ts", "--batch-size", "2"],
      { cwd: projectRoot, env: { ...process.env, DATABASE_URL: url }, timeout: 30_000 },
      (error, stdout, stderr) => error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
  expect(output).toMatch(/batch 1: 2 chats, 0 sessions/);
  expect(output).toMatch(/batch 2: 2 chats, 0 sessions/);
  expect(output).toMatch(/batch 3: 1 chats, 0 sessions/);
  expect(output).toMatch(/purged 5 chats and 0 sessions in 3 batches/);
  expect(await remaining(ids)).toBe(0);
  expect(await remaining([kept])).toBe(1);
});

it("the documented pg_cron job purges everything in batches, committing each", async () => {
  const readme = readFileSync(path.join(projectRoot, "docs/api.md"), "utf8");
  const job = /\$job\$\n([\s\S]*?)\n\s*\$job\$/.exec(readme)?.[1];
  expect(job, "the README's cron.schedule block").toContain("public.purge_archived('30 days', 100)");

  // Transactions committed while the job runs, counted on its own connection, as pg_cron runs a
  // job: the command alone, at top level, so the COMMITs in its do block are allowed.
  const connection = await sql.reserve();
  const committed = async () => {
    await connection`select pg_stat_force_next_flush()`;
    await connection`select pg_stat_clear_snapshot()`;
    const [row] =
      await connection`select xact_commit::int as n from pg_stat_database where datname = current_database()`;
    return row.n as number;
  };
  const commitsOf = async (batchSize: number) => {
    const before = await committed();
    await connection.unsafe(job!.replace("'30 days', 100)", `'30 days', ${batchSize})`)).simple();
    return await committed() - before;
  };
  try {
    const first = await archivedChats(7);
    const inOneBatch = await commitsOf(100);
    const second = await archivedChats(7);
    const inThreeBatches = await commitsOf(3);
    expect(await remaining([...first.ids, ...second.ids])).toBe(0);
    expect(await remaining([first.kept, second.kept])).toBe(2);
    // 3 + 3 + 1 chats: two more batches, two more commits.
    expect(inThreeBatches - inOneBatch).toBe(2);
  } finally {
    connection.release();
  }
});
