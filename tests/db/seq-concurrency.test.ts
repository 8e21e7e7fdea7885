// seq under concurrency: many writers on one chat, each in its own transaction that lingers before
// committing, while a reader pages by "after seq". No duplicate, no gap, and no reader ever sees a
// gap that a later commit fills.
import { expect, it } from "vitest";
import { useTestDatabase } from "../support/db.ts";
import { id, makeAccount, makeChat, makeSession, uiMessage } from "../support/factories.ts";

const { sql } = await useTestDatabase();

it("16 writers x 13 inserts into one chat get seq 1..208, visible only as a gapless prefix", async () => {
  const session = await makeSession(sql, await makeAccount(sql));
  const chat = await makeChat(sql, session.id);
  const writers = 16, perWriter = 12 + 1; // 16 * 13 = 208 messages
  let writing = true;

  const observed: number[][] = [];
  const reader = (async () => {
    let after = 0;
    const seen: number[] = [];
    while (writing) {
      const page = await sql`
        select seq::int as seq from chat_messages where chat_id = ${chat.id} and seq > ${after} order by seq limit 50`;
      for (const row of page) seen.push(row.seq);
      if (page.length) after = page.at(-1)!.seq;
      const [snapshot] = await sql`
        select count(*)::int as n, coalesce(max(seq), 0)::int as max from chat_messages where chat_id = ${chat.id}`;
      observed.push([snapshot.n, snapshot.max]);
    }
    return seen;
  })();

  await Promise.all(Array.from({ length: writers }, async () => {
    for (let i = 0; i < perWriter; i++) {
      const messageId = id("m");
      await sql.begin(async (tx) => {
        await tx`insert into chat_messages (id, chat_id, role, parts)
                 values (${messageId}, ${chat.id}, 'user', ${tx.json(uiMessage(messageId, "user"))})`;
        await tx`select pg_sleep(${Math.random() / 500})`;
      });
    }
  }));
  writing = false;
  const pagedBySeq = await reader;

  const total = writers * perWriter;
  const rows = await sql`select seq::int as seq from chat_messages where chat_id = ${chat.id} order by seq`;
  expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  // Every snapshot a reader took was a prefix 1..n: nothing committed out of seq order.
  expect(observed.filter(([n, max]) => n !== max)).toEqual([]);
  // Paging by "after seq" saw a strictly increasing run with no hole.
  expect(pagedBySeq).toEqual(Array.from({ length: pagedBySeq.length }, (_, i) => i + 1));
  expect(observed.length).toBeGreaterThan(3);
});
