// One ownership rule (01_ownership_and_helpers.sql): tables that carry account_id compare it with
// auth.uid(); every table below them is visible when its parent row is, `exists (select from
// <parent> where <parent>.id = <table>.<parent id>)`, under the parent's own policy. The probe is
// per row, so what a statement costs follows the rows it touches, not how many chats the account has.
import { beforeAll, describe, expect, it } from "vitest";
import { asUser, type Tx, useTestDatabase } from "../support/db.ts";
import { makeChat, makeMessage, makeOwnedTree } from "../support/factories.ts";

const { sql } = await useTestDatabase();

// The rule's root: tables that carry the account themselves.
const accountKeyed = [
  "account_budgets",
  "accounts",
  "chat_usage",
  "chats",
  "session_usage",
  "sessions",
  "usage_daily",
  "workflow_run_usage",
];
/** Each table below the root, the parent its policies ask for, the column naming it and the parent's key. */
const parentOf: Record<string, [parent: string, column: string, key: string]> = {
  chat_context_resources: ["chats", "chat_id", "id"],
  chat_cut_messages: ["chats", "chat_id", "id"],
  chat_history_cuts: ["chats", "chat_id", "id"],
  chat_messages: ["chats", "chat_id", "id"],
  chat_queued_messages: ["chats", "chat_id", "id"],
  chat_reads: ["chats", "chat_id", "id"],
  chat_stream_chunks: ["chat_streams", "message_id", "message_id"],
  chat_streams: ["chats", "chat_id", "id"],
  session_context_resources: ["sessions", "session_id", "id"],
  workflow_run_steps: ["workflow_runs", "workflow_run_id", "id"],
  workflow_runs: ["chats", "chat_id", "id"],
};

it("every table has row level security and a policy, under one of the rule's two forms", async () => {
  const tables = await sql`
    select c.relname, c.relrowsecurity from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' order by 1`;
  expect(tables.filter((t) => !t.relrowsecurity)).toEqual([]);
  expect(tables.map((t) => t.relname)).toEqual([...accountKeyed, ...Object.keys(parentOf)].sort());
});

it("the root's policies compare account_id with (select auth.uid()), and nothing else", async () => {
  const policies = await sql`
    select tablename, policyname, qual, with_check from pg_policies
     where schemaname = 'public' and tablename = any(${accountKeyed}) order by tablename`;
  expect([...new Set(policies.map((p) => p.tablename))]).toEqual(accountKeyed);
  const root = /^\((account_)?id = \( SELECT auth\.uid\(\) AS uid\)\)$/;
  for (const { policyname, qual, with_check } of policies) {
    for (const expr of [qual, with_check].filter((e) => e !== null)) expect(expr, policyname).toMatch(root);
  }
});

it("every policy below the root asks for its parent row, by the parent's primary key, one probe per row", async () => {
  const policies = await sql`
    select tablename, policyname, qual, with_check from pg_policies
     where schemaname = 'public' and tablename <> all(${accountKeyed}) order by tablename`;
  expect([...new Set(policies.map((p) => p.tablename))]).toEqual(Object.keys(parentOf));
  for (const { tablename, policyname, qual, with_check } of policies) {
    const [parent, column, key] = parentOf[tablename];
    const probe = String.raw`SELECT\s+FROM ${parent} \w+\s+WHERE \(\w+\.${key} = ${tablename}\.${column}\)\s+OFFSET 0`;
    const asksForParent = new RegExp(String.raw`^\(?\(?EXISTS \( ${probe}\)\)`);
    for (const expr of [qual, with_check].filter((e) => e !== null)) {
      // A read marker is the user's own (its account_id, read as the root) on a chat of theirs;
      // a pin's check adds, after the chat, what it may copy.
      const ownMarker = "(account_id = ( SELECT auth.uid() AS uid))";
      if (tablename === "chat_reads" && expr === ownMarker) continue;
      expect(expr.replace(`(${ownMarker} AND `, "("), policyname).toMatch(asksForParent);
      expect(expr, policyname).not.toMatch(/owned_\w+_ids/);
    }
  }
});

describe("what the rule costs follows the statement, not the account", () => {
  let owner: Awaited<ReturnType<typeof makeOwnedTree>>;
  beforeAll(async () => {
    owner = await makeOwnedTree(sql);
    for (let i = 0; i < 40; i++) await makeMessage(sql, owner.chat.id);
    for (let i = 0; i < 300; i++) await makeChat(sql, owner.session.id);
    // As autovacuum would: without statistics the planner cannot tell chats_pkey (one row) from
    // the account's index (all its chats) and may take the index-only scan of the latter.
    await sql`analyze chats`;
  });

  interface PlanNode {
    "Node Type": string;
    "Relation Name"?: string;
    "Index Name"?: string;
    "Actual Rows": number;
    "Actual Loops": number;
    Plans?: PlanNode[];
  }
  const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

  /** Runs `statement` as the owner under EXPLAIN ANALYZE: its rows and every scan of chats in its plan. */
  const chatsReadBy = (statement: string) =>
    asUser(sql, owner.accountId, async (tx: Tx) => {
      const [{ "QUERY PLAN": [plan] }] = await tx.unsafe(`explain (analyze, format json) ${statement}`);
      const scans = nodes(plan.Plan).filter((n) => n["Relation Name"] === "chats");
      return {
        rows: plan.Plan["Actual Rows"] as number,
        scans: scans.map((n) => `${n["Node Type"]} ${n["Index Name"] ?? ""}`.trim()),
        chatsRead: scans.reduce((sum, n) => sum + n["Actual Rows"] * n["Actual Loops"], 0),
      };
    });

  it("reading 41 messages of an account with 301 chats probes one chat per message", async () => {
    expect(await chatsReadBy(`select id from chat_messages where chat_id = '${owner.chat.id}'`)).toEqual({
      rows: 41,
      scans: ["Index Scan chats_pkey"],
      chatsRead: 41,
    });
  });

  it("reading one message probes one chat", async () => {
    expect(await chatsReadBy(`select id from chat_messages where id = '${owner.message.id}'`)).toEqual({
      rows: 1,
      scans: ["Index Scan chats_pkey"],
      chatsRead: 1,
    });
  });

  it("a run's steps ask for their run, which asks for its chat", async () => {
    const plan = await chatsReadBy(`select id from workflow_run_steps where workflow_run_id = '${owner.run.id}'`);
    expect(plan).toEqual({ rows: 1, scans: ["Index Scan chats_pkey"], chatsRead: 1 });
  });
});
