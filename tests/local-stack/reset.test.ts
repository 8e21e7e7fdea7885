// npm run db:reset's core: drop, recreate, bootstrap, migrate, seed; and start's "first run only"
// seeding on a database that already has our history.
import { expect, inject, it } from "vitest";
import { functionsDatabaseUrl } from "../../scripts/local-stack/config.ts";
import {
  bootstrap,
  connect,
  prepareDatabase,
  recreateDatabase,
  resetDatabase,
} from "../../scripts/local-stack/database.ts";

it("a reset database holds exactly the migrations and the seed, and a restart changes nothing", async () => {
  const url = new URL(inject("clusterUrl"));
  url.pathname = "/reset_test";
  const sql = connect(url.toString());
  try {
    expect((await resetDatabase(url.toString())).length).toBeGreaterThanOrEqual(2);
    await sql`insert into accounts (id) values (gen_random_uuid())`;
    expect((await sql`select count(*)::int as n from accounts`)[0].n).toBe(2);

    expect(await prepareDatabase(url.toString(), { seed: true })).toEqual({
      bootstrapped: false,
      migrated: [],
      seeded: false,
      functionsUrl: functionsDatabaseUrl(url.toString()),
    });

    await sql.end();
    await resetDatabase(url.toString());
    const reopened = connect(url.toString());
    expect((await reopened`select count(*)::int as n from accounts`)[0].n).toBe(1);
    await reopened.end();
  } finally {
    await sql.end();
  }
});

it("a database bootstrapped by an older version of the stack is brought up to date on start", async () => {
  const url = new URL(inject("clusterUrl"));
  url.pathname = "/older_stack_test";
  await recreateDatabase(url.toString());
  const sql = connect(url.toString());
  try {
    await bootstrap(sql);
    await sql`drop publication supabase_realtime`; // what the first bootstrap did not create
    expect(await prepareDatabase(url.toString(), { seed: true })).toMatchObject({ bootstrapped: false, seeded: true });
    const tables = await sql`select tablename from pg_publication_tables where pubname = 'supabase_realtime'`;
    expect(tables.length).toBe(2);
  } finally {
    await sql.end();
  }
});
