// The migrated database passes the checks of Supabase's database linter; and each check really
// fires on the mistake it exists for (planted in a transaction that is rolled back).
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/db.ts";
import { findings, lints } from "../support/linter.ts";

const { sql } = await useTestDatabase();

it("the migrated schema has no finding", async () => {
  const found = await findings(sql);
  expect(found).toEqual(Object.fromEntries(Object.keys(lints).map((name) => [name, []])));
});

const plantings: Record<string, string> = {
  rls_disabled_in_public: "create table public.open_table (id int)",
  policy_exists_rls_disabled:
    "create table public.open_table (id int); create policy p on public.open_table for select using (true)",
  unindexed_foreign_keys: "create table public.child (chat_id text references public.chats (id))",
  function_search_path_mutable: "create function public.f() returns int language sql as 'select 1'",
  auth_rls_initplan:
    "create policy slow on public.sessions as restrictive for select to authenticated using (account_id = auth.uid())",
  multiple_permissive_policies:
    "create policy second on public.sessions for select to authenticated using (account_id = (select auth.uid()))",
  security_definer_view: "create view public.v as select id from public.chats",
  security_definer_function_executable_by_anon:
    "create function public.g() returns int language sql security definer set search_path = '' as 'select 1'; " +
    "grant execute on function public.g() to anon",
};

describe("each check catches its mistake", () => {
  it.each(Object.keys(lints))("%s", async (name) => {
    const error = await sql.begin(async (tx) => {
      await tx.unsafe(plantings[name]).simple();
      const found = await findings(tx);
      expect(found[name].length, `${name} found nothing`).toBeGreaterThan(0);
      throw new Error("rollback");
    }).catch((e) => e);
    expect(error.message).toBe("rollback");
  });
});
