// Workload 6: reading a conversation over HTTP, one request at a time (the latency a UI waits for).
// One account holds 10,000 chats in 100 sessions (half of them unread); list-chats and list-sessions
// return their default page of 50, newest activity first. get-messages returns its default page (the
// newest 50 messages, what a chat view opens on) of a chat with 10^3 and of one with 10^6 messages,
// in the same account. wrk, one connection, GET with the owner's JWT. The plans PostgreSQL ran
// inside public.get_messages at the largest size are captured with auto_explain (ANALYZE, BUFFERS,
// nested statements), as the user with RLS applied.
import { randomUUID } from "node:crypto";
import { userJwt } from "../scripts/local-stack/config.ts";
import { connect } from "../scripts/local-stack/database.ts";
import type { Bench } from "./append.ts";
import { type LoadResult, wrkGet } from "./tools.ts";

const prefix = "reads-";
export const chats = 10_000, sessions = 100;
/** The chats whose messages are paged: one per size, the first the largest. */
const pagedChat = (i: number) => `${prefix}c${i}`;

export interface ReadsAccount {
  accountId: string;
  token: string;
  /** Messages in each paged chat, as seeded. */
  sizes: number[];
}

/**
 * The account, its sessions and chats, and `sizes` messages in its first chats. Bulk SQL with
 * triggers off (seq, revision and timestamps given here), then the chats' counters set to match.
 */
export async function seedReads(bench: Bench, sizes: number[]): Promise<ReadsAccount> {
  const accountId = randomUUID();
  await bench.sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into accounts (id) values (${accountId})`;
    await tx`
      insert into sessions (id, account_id, title, created_at, updated_at)
      select ${prefix} || 's' || i, ${accountId}, 'session ' || i, now() - interval '30 days',
             now() - i * interval '1 minute'
        from generate_series(0, ${sessions - 1}) i`;
    await tx`
      insert into chats (id, session_id, account_id, title, last_assistant_message_at, created_at, updated_at)
      select ${prefix} || 'c' || i, ${prefix} || 's' || (i % ${sessions}), ${accountId}, 'chat ' || i,
             now() - i * interval '1 minute', now() - interval '30 days', now() - i * interval '1 minute'
        from generate_series(0, ${chats - 1}) i`;
    // Every other chat read since the agent last wrote: half the list is unread.
    await tx`
      insert into chat_reads (account_id, chat_id, last_read_at)
      select ${accountId}, ${prefix} || 'c' || i, now() from generate_series(0, ${chats - 1}, 2) i`;
    for (const [i, size] of sizes.entries()) {
      await tx`
        insert into chat_messages (id, chat_id, role, parts, seq, revision, created_at, updated_at)
        select ${pagedChat(i)} || '-m' || g, ${pagedChat(i)}, m.role,
               jsonb_build_object('id', ${pagedChat(i)} || '-m' || g, 'role', m.role,
                 'parts', jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat('lorem ipsum ', 12)))),
               g, g, now(), now()
          from generate_series(1, ${size}) g
         cross join lateral (select case when g % 2 = 0 then 'assistant' else 'user' end as role) m`;
      await tx`update chats set last_message_seq = ${size}, revision = ${size} where id = ${pagedChat(i)}`;
    }
  });
  await bench.sql`vacuum analyze chat_messages`;
  await bench.sql`analyze chats`;
  await bench.sql`analyze sessions`;
  await bench.sql`analyze chat_reads`;
  return { accountId, token: await userJwt(accountId, 24 * 3600), sizes };
}

export interface ReadsRound {
  listChats: LoadResult;
  listSessions: LoadResult;
  /** get-messages' newest page, per size. */
  messages: LoadResult[];
}

export async function measureReads(bench: Bench, account: ReadsAccount): Promise<ReadsRound> {
  const seconds = Math.max(2, bench.seconds / 2);
  const get = (path: string) => wrkGet(`${bench.apiUrl}/functions/v1/${path}`, account.token, 1, seconds);
  const listChats = await get("list-chats");
  const listSessions = await get("list-sessions");
  const messages: LoadResult[] = [];
  for (const i of account.sizes.keys()) messages.push(await get(`get-messages?chat_id=${pagedChat(i)}`));
  return { listChats, listSessions, messages };
}

/**
 * What public.get_messages runs for the newest page of the largest chat: every statement inside it,
 * with its plan, actual rows and buffers (auto_explain at level NOTICE, so the plans come back to
 * this connection). Called a few times first, as the functions' pooled connections do, so the plans
 * are the cached ones they run. Cost estimates are left out: rows, time and buffers are the evidence.
 */
export async function getMessagesPlans(bench: Bench, account: ReadsAccount): Promise<string[]> {
  const notices: string[] = [];
  const sql = connect(bench.databaseUrl, { onnotice: (notice) => void notices.push(notice.message) });
  try {
    return await sql.begin(async (tx) => {
      await tx`load 'auto_explain'`;
      for (
        const [name, value] of Object.entries({
          log_min_duration: "0",
          log_analyze: "on",
          log_buffers: "on",
          log_timing: "on",
          log_nested_statements: "on",
          log_level: "notice",
        })
      ) await tx`select set_config(${`auto_explain.${name}`}, ${value}, true)`;
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
        JSON.stringify({ sub: account.accountId, role: "authenticated" })
      }, true)`;
      for (let i = 0; i < 7; i++) {
        notices.length = 0;
        await tx`select public.get_messages(${pagedChat(0)})`;
      }
      return notices
        .filter((text) => text.includes("chat_messages") || text.includes("get_messages"))
        .map((text) => text.replace(/ {2}\(cost=[\d.]+\.\.[\d.]+ rows=\d+ width=\d+\)/g, ""));
    });
  } finally {
    await sql.end();
  }
}

const row = (what: string, x: LoadResult) => `| ${what} | ${x.p50} / ${x.p95} / ${x.p99} | ${x.rps} | ${x.errors} |`;

export interface ReadsResults {
  chats: number;
  sessions: number;
  listChats: LoadResult;
  listSessions: LoadResult;
  messages: { messages: number; result: LoadResult }[];
  plans: string[];
}

export function readsSection(r: ReadsResults): string[] {
  const small = r.messages[0], large = r.messages.at(-1)!;
  const ratio = large.result.p50 / small.result.p50;
  return [
    "## Reading: lists and message pages over HTTP",
    "",
    `One account with ${r.chats.toLocaleString("en")} chats in ${r.sessions} sessions (half unread), a page of 50 ` +
    "(the default), newest activity first; get-messages' default page (the newest 50 messages, what a chat view " +
    "opens on) of a chat of each size, in the same account. wrk, one connection, GET with the owner's JWT: each " +
    "figure is one request's full round trip (JWT, RLS, JSON).",
    "",
    "| request | p50 / p95 / p99 ms | req/s | errors |",
    "| --- | --: | --: | --: |",
    row(`list-chats (${r.chats.toLocaleString("en")} chats)`, r.listChats),
    row(`list-sessions (${r.sessions} sessions)`, r.listSessions),
    ...r.messages.map((m) => row(`get-messages, newest 50 of ${m.messages.toLocaleString("en")}`, m.result)),
    "",
    `Targets: list-chats p50 < 15 ms at 10,000 chats (measured ${r.listChats.p50} ms: **${
      r.listChats.p50 < 15 ? "met" : "not met"
    }**); get-messages p50 at ${large.messages.toLocaleString("en")} messages within 1.5× of ${
      small.messages.toLocaleString("en")
    } (measured ${ratio.toFixed(2)}×: **${ratio <= 1.5 ? "met" : "not met"}**).`,
    "",
    `Inside public.get_messages at ${large.messages.toLocaleString("en")} messages (auto_explain: every statement ` +
    "that touches chat_messages, with actual rows, time and buffers, as the user; cost estimates removed):",
    "",
    ...r.plans.flatMap((plan) => ["```", plan, "```", ""]),
  ];
}
