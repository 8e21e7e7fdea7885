// Workload 4: how latency grows with the data. The table is seeded in bulk with SQL (spread over many
// chats, half of it in one very long chat); then appending to the long chat (HTTP), reading one page
// of 50 after a cursor in it, and listing an account's 1,000 chats with an unread flag (both as role
// authenticated with RLS, as Supabase's REST API would run them).
import { userJwt } from "../scripts/local-stack/config.ts";
import type { Bench } from "./append.ts";
import { makeChats } from "./append.ts";
import { type LoadResult, pgbench, wrk } from "./tools.ts";

const prefix = "scale-";
export const longChat = `${prefix}0`;

/** The unread listing: every chat of the caller, newest first, with whether the agent wrote since they read. */
export const unreadListing = `
  select c.id, c.title, c.updated_at,
         coalesce(c.last_assistant_message_at > r.last_read_at, c.last_assistant_message_at is not null) as unread
    from public.chats c
    left join public.chat_reads r on r.chat_id = c.id and r.account_id = (select auth.uid())
   order by c.updated_at desc`;

export async function seedScaleAccount(bench: Bench) {
  const owner = await makeChats(bench.sql, prefix, 1000);
  // Other accounts' chats, so the tables are not one account's alone.
  for (let i = 0; i < 10; i++) await makeChats(bench.sql, `filler${i}-`, 100);
  await bench.sql`
    insert into chat_reads (account_id, chat_id, last_read_at)
    select ${owner.accountId}, ${prefix} || i, now() - interval '1 hour' from generate_series(0, 999, 2) i`;
  return owner;
}

/** Rebuilds chat_messages to hold `total` rows: half in the long chat, the rest over the other chats. */
export async function seedMessages(bench: Bench, total: number) {
  const long = Math.floor(total / 2);
  await bench.sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`; // bulk load: seq given here, triggers off
    await tx`truncate chat_messages`;
    await tx`
      insert into chat_messages (id, chat_id, role, parts, seq, created_at, updated_at)
      select m.id, m.chat_id, m.role,
             jsonb_build_object('id', m.id, 'role', m.role,
               'parts', jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat('lorem ipsum ', 12)))),
             m.seq, now(), now()
        from (
          select ${longChat} || '-m' || g as id, ${longChat} as chat_id,
                 case when g % 2 = 0 then 'assistant' else 'user' end as role, g as seq
            from generate_series(1, ${long}) g
          union all
          select c.id || '-m' || g, c.id, case when g % 2 = 0 then 'assistant' else 'user' end, g
            from (select id, row_number() over (order by id) as n from chats where id <> ${longChat}) c
           cross join lateral generate_series(1, ceil((${total - long})::numeric / 2000)::int) g
           where c.n <= 2000
        ) m
       limit ${total}`;
    await tx`
      update chats c set last_message_seq = m.max_seq, last_assistant_message_at = now() - interval '30 minutes'
        from (select chat_id, max(seq) as max_seq from chat_messages group by chat_id) m
       where m.chat_id = c.id`;
  });
  await bench.sql`vacuum analyze chat_messages`;
  await bench.sql`analyze chats`;
  const [{ n }] = await bench.sql`select count(*)::int as n from chat_messages`;
  return n;
}

const asUser = (accountId: string, query: string) => {
  const claims = JSON.stringify({ sub: accountId, role: "authenticated" }).replaceAll(":", ": ");
  return `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '${claims}', true) \\; ${
    query.replaceAll("\n", " ")
  };\n`;
};

export interface ScalePoint {
  messages: number;
  append: LoadResult;
  pageRead: LoadResult;
  unreadListing: LoadResult;
}

export async function measureAt(bench: Bench, accountId: string, messages: number, round: number): Promise<ScalePoint> {
  const token = await userJwt(accountId, 24 * 3600);
  const append = await wrk(
    `${bench.apiUrl}/functions/v1/append-message`,
    {
      operation: "append",
      token,
      chatPrefix: longChat,
      shape: "b",
      tag: `scale-${messages}-r${round}`,
    },
    1,
    Math.max(2, bench.seconds / 2),
  );
  const cursor = Math.floor(messages / 4);
  const pageRead = await pgbench(
    bench.databaseUrl,
    asUser(
      accountId,
      `select id, role, parts, seq from public.chat_messages where chat_id = '${longChat}' and seq > ${cursor} order by seq limit 50`,
    ),
    1,
    Math.max(2, bench.seconds / 2),
  );
  const listing = await pgbench(bench.databaseUrl, asUser(accountId, unreadListing), 1, Math.max(2, bench.seconds / 2));
  return { messages, append, pageRead, unreadListing: listing };
}

/** The plans behind the read latencies, as evidence of index-only work. */
export async function plans(bench: Bench, accountId: string, messages: number) {
  return await bench.sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
      JSON.stringify({ sub: accountId, role: "authenticated" })
    }, true)`;
    const explain = async (query: string) =>
      (await tx.unsafe(`explain (analyze, buffers, costs off, timing off, summary off) ${query}`))
        .map((r) => r["QUERY PLAN"]).join("\n");
    return {
      pageRead: await explain(
        `select id, role, parts, seq from public.chat_messages where chat_id = '${longChat}' and seq > ${
          Math.floor(messages / 4)
        } order by seq limit 50`,
      ),
      unreadListing: await explain(unreadListing),
    };
  });
}
