// The Supabase CLI's own database checks work against the local stack: `supabase db advisors` (the
// security and performance linter Supabase runs on hosted projects) finds nothing at warning level
// or above in the migrated schema, and `supabase inspect db outliers` / `db-stats` read query
// statistics from pg_stat_statements, which the local stack installs where Supabase does.
import { expect, it } from "vitest";
import { remote, supabaseCli } from "../../scripts/local-stack/supabase-cli.ts";
import { useTestDatabase } from "../support/db.ts";

const { sql, url } = await useTestDatabase();

interface Finding {
  name: string;
  level: string;
  detail: string;
}

/** The advisors' findings at warning level or above, and whether `--fail-on warn` failed. */
async function advisors(): Promise<{ findings: Finding[]; failed: boolean }> {
  const args = ["db", "advisors", remote(url), "--level", "warn", "--fail-on", "warn", "--output-format", "json"];
  const { stdout, failed } = await supabaseCli(...args).then(
    ({ stdout }) => ({ stdout, failed: false }),
    (error) => ({ stdout: error.stdout as string, failed: true }),
  );
  return { findings: JSON.parse(stdout).results, failed };
}

it("`supabase db advisors` finds nothing at warning level or above in the migrated schema", async () => {
  expect(await advisors()).toEqual({ findings: [], failed: false });
});

it("and it does find a mistake planted in the schema", async () => {
  await sql`create table public.planted_without_rls (id int primary key)`;
  try {
    const { findings, failed } = await advisors();
    expect(failed).toBe(true);
    expect(findings).toContainEqual(expect.objectContaining({ name: "rls_disabled_in_public", level: "ERROR" }));
  } finally {
    await sql`drop table public.planted_without_rls`;
  }
});

it("`supabase inspect db outliers` and `db-stats` read the query statistics", async () => {
  // A statement of this test's own, so the statistics are known to be collected here.
  for (let i = 0; i < 3; i++) await sql`select count(*) from chats where id = ${"outliers-probe"}`;
  const [{ calls }] = await sql`
    select coalesce(sum(calls), 0)::int as calls from extensions.pg_stat_statements
     where query like '%from chats where id = $1%'`;
  expect(calls).toBeGreaterThanOrEqual(3);

  const outliers = JSON.parse(
    (await supabaseCli("inspect", "db", "outliers", remote(url), "--output-format", "json"))
      .stdout,
  ).rows;
  expect(outliers.length).toBeGreaterThan(0);
  expect(outliers[0]).toEqual(
    expect.objectContaining({
      query: expect.any(String),
      total_exec_time: expect.any(String),
      ncalls: expect.any(String),
    }),
  );

  const stats = JSON.parse(
    (await supabaseCli("inspect", "db", "db-stats", remote(url), "--output-format", "json"))
      .stdout,
  ).rows;
  // "N/A" here would mean pg_stat_statements_info is unreadable.
  expect(stats).toEqual([
    expect.objectContaining({
      database_size: expect.stringMatching(/B$/),
      time_since_stats_reset: expect.stringMatching(/^\d+:\d\d:/),
    }),
  ]);
});
