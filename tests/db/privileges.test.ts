// The API roles hold no table privilege that row level security cannot govern: TRUNCATE (empties a
// table for every account), TRIGGER and REFERENCES. Checked in the catalog for every table in public,
// so a later migration that creates a table or grants them back fails here.
import { describe, expect, it } from "vitest";
import { bootstrap } from "../../scripts/local-stack/database.ts";
import { asUser, type Sql, type Tx, useTestDatabase } from "../support/db.ts";
import { makeOwnedTree } from "../support/factories.ts";

const { sql } = await useTestDatabase();

/** Every (table, API role, privilege) in public that should not be there. */
const rowlessPrivileges = (tx: Sql | Tx) =>
  tx`
    select c.relname || ' ' || r.role || ' ' || p.privilege as grant
      from pg_class c
     cross join unnest(array['anon', 'authenticated']) r(role)
     cross join unnest(array['TRUNCATE', 'TRIGGER', 'REFERENCES']) p(privilege)
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and has_table_privilege(r.role, c.oid, p.privilege)
     order by 1`.then((rows) => rows.map((row) => row.grant as string));

/** Runs fn in a transaction that is always rolled back. */
const rolledBack = async <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
  let result: T;
  const error = await sql.begin(async (tx) => {
    result = await fn(tx);
    throw new Error("rollback");
  }).catch((e) => e);
  expect(error.message).toBe("rollback");
  return result!;
};

describe("TRUNCATE, TRIGGER and REFERENCES", () => {
  it("no API role holds them on any table in public", async () => {
    const [{ tables }] = await sql`
      select count(*)::int as tables from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'`;
    expect(tables).toBe(19);
    expect(await rowlessPrivileges(sql)).toEqual([]);
  });

  it("a table a later migration creates does not get them either (default privileges)", async () => {
    const found = await rolledBack(async (tx) => {
      await tx`create table public.later_table (id int)`;
      const [{ selectable }] = await tx`
        select has_table_privilege('authenticated', 'public.later_table', 'SELECT') as selectable`;
      return { selectable, found: await rowlessPrivileges(tx) };
    });
    // Still granted what RLS governs (Supabase's defaults), but not the three.
    expect(found).toEqual({ selectable: true, found: [] });
  });

  it("the check fires on a grant that brings one back", async () => {
    const found = await rolledBack(async (tx) => {
      await tx`grant truncate on public.chats to anon`;
      return await rowlessPrivileges(tx);
    });
    expect(found).toEqual(["chats anon TRUNCATE"]);
  });

  it("re-running the local bootstrap (every npm start) does not grant them back to new tables", async () => {
    await bootstrap(sql);
    const found = await rolledBack(async (tx) => {
      await tx`create table public.later_table (id int)`;
      return await rowlessPrivileges(tx);
    });
    expect(found).toEqual([]);
  });

  it("a signed-in user cannot truncate workflow_run_steps over SQL, and every account's steps survive", async () => {
    const a = await makeOwnedTree(sql);
    await makeOwnedTree(sql);
    const count = async () => (await sql`select count(*)::int as n from workflow_run_steps`)[0].n;
    const before = await count();
    expect(before).toBeGreaterThanOrEqual(2);
    const error = await asUser(sql, a.accountId, (tx) => tx`truncate public.workflow_run_steps`).catch((e) => e);
    expect(error.code).toBe("42501");
    expect(error.message).toMatch(/permission denied for table workflow_run_steps/);
    expect(await count()).toBe(before);
  });
});
