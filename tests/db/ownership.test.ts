// One ownership rule: run -> chat -> session -> account is written once, in private.owned_*_ids(),
// and every policy below the account uses it. The helpers run once per statement, however many rows
// the statement touches (the `(select auth.uid())` advice, kept through the helpers).
import { beforeAll, describe, expect, it } from "vitest";
import { asUser, type Tx, useTestDatabase } from "../support/db.ts";
import { makeMessage, makeOwnedTree } from "../support/factories.ts";

const { sql } = await useTestDatabase();
const helpers = ["private.owned_session_ids()", "private.owned_chat_ids()", "private.owned_run_ids()"];

describe("the helpers", () => {
  it.each(helpers)("%s is STABLE, pins search_path, and only authenticated may execute it", async (helper) => {
    const [row] = await sql`
      select p.provolatile, p.proconfig, p.proretset,
             has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
             has_function_privilege('anon', p.oid, 'execute') as anon
        from pg_proc p where p.oid = ${helper}::regprocedure`;
    expect(row).toEqual({
      provolatile: "s",
      proconfig: ['search_path=""'],
      proretset: true,
      authenticated: true,
      anon: false,
    });
  });

  it("each returns the caller's ids only", async () => {
    const a = await makeOwnedTree(sql);
    await makeOwnedTree(sql);
    const owned = await asUser(sql, a.accountId, async (tx) => ({
      sessions: (await tx`select private.owned_session_ids() as id`).map((r) => r.id),
      chats: (await tx`select private.owned_chat_ids() as id`).map((r) => r.id),
      runs: (await tx`select private.owned_run_ids() as id`).map((r) => r.id),
    }));
    expect(owned).toEqual({ sessions: [a.session.id], chats: [a.chat.id], runs: [a.run.id] });
  });
});

// Tables that carry account_id themselves (sessions, and the usage and budget tables) are the rule's
// root: their policies compare account_id with auth.uid() directly.
const accountKeyed = [
  "accounts",
  "sessions",
  "account_budgets",
  "chat_usage",
  "session_usage",
  "usage_daily",
  "workflow_run_usage",
];

it("every policy below the account and its sessions uses them, and none spells the chain out", async () => {
  const policies = await sql`
    select tablename, policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr
      from pg_policies where schemaname = 'public' and tablename <> all(${accountKeyed})
     order by tablename`;
  expect(policies.map((p) => p.tablename)).toEqual([
    "chat_context_resources",
    "chat_context_resources",
    "chat_context_resources",
    "chat_context_resources",
    "chat_cut_messages",
    "chat_history_cuts",
    "chat_messages",
    "chat_queued_messages",
    "chat_reads",
    "chat_stream_chunks",
    "chat_streams",
    "chats",
    "session_context_resources",
    "workflow_run_steps",
    "workflow_runs",
  ]);
  for (const { policyname, expr } of policies) {
    expect(expr, policyname).toMatch(/private\.owned_(session|chat|run)_ids\(\)/);
    expect(expr, policyname).not.toMatch(/\bfrom\s+(public\.)?(sessions|chats|workflow_runs)\b/i);
  }
});

it("the usage and budget tables' policies are the root rule: account_id = (select auth.uid())", async () => {
  const policies = await sql`
    select tablename, qual from pg_policies
     where schemaname = 'public' and tablename = any(${accountKeyed.slice(2)}) order by tablename`;
  expect(policies.map((p) => p.tablename)).toEqual([...accountKeyed.slice(2)].sort());
  for (const { tablename, qual } of policies) {
    expect(qual, tablename).toBe("(account_id = ( SELECT auth.uid() AS uid))");
  }
});

describe("once per statement, not once per row", () => {
  let owner: Awaited<ReturnType<typeof makeOwnedTree>>;
  beforeAll(async () => {
    owner = await makeOwnedTree(sql);
    for (let i = 0; i < 40; i++) await makeMessage(sql, owner.chat.id);
  });

  /** Runs `statement` as the owner and returns how often each helper ran for it. */
  const callsFor = (statement: (tx: Tx) => Promise<unknown>) =>
    sql.begin(async (tx) => {
      await tx`set local track_functions = 'all'`; // a superuser setting: set before switching role
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
        JSON.stringify({ sub: owner.accountId, role: "authenticated" })
      }, true)`;
      // Counts not yet flushed to the statistics system: they may include earlier transactions'.
      const calls = async () =>
        (await tx`
          select coalesce(pg_stat_get_xact_function_calls('private.owned_session_ids()'::regprocedure), 0)::int
                   as sessions,
                 coalesce(pg_stat_get_xact_function_calls('private.owned_chat_ids()'::regprocedure), 0)::int
                   as chats`)[0];
      const before = await calls();
      const rows = await statement(tx) as unknown[];
      const after = await calls();
      return { rows: rows.length, sessions: after.sessions - before.sessions, chats: after.chats - before.chats };
    });

  it("reading 41 messages runs each helper once", async () => {
    expect(await callsFor((tx) => tx`select id from chat_messages`)).toEqual({ rows: 41, sessions: 1, chats: 1 });
  });

  it("reading one message costs the same", async () => {
    expect(await callsFor((tx) => tx`select id from chat_messages limit 1`)).toEqual({
      rows: 1,
      sessions: 1,
      chats: 1,
    });
  });

  it("updating 41 messages runs them once for the rows and once for the check", async () => {
    expect(
      await callsFor((tx) => tx`update chat_messages set parts = parts where role = 'user' returning id`),
    ).toEqual({ rows: 41, sessions: 2, chats: 2 });
  });
});
