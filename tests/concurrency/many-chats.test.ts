// Many writers on many chats at once, watched by a reader paging each chat "after seq": no message is
// lost or duplicated, every chat's seq runs 1..n, and the reader never sees a gap that fills later.
import { expect, it } from "vitest";
import { invoke, newUser, uid, useFunctionsDatabase } from "../support/functions.ts";
import { uiMessage } from "../support/factories.ts";
import { soak } from "../support/soak.ts";

const sql = useFunctionsDatabase();

const appends = 15 * soak;

it(`24 chats x 2 writers x ${appends} appends, read concurrently by seq`, async () => {
  const user = await newUser();
  const created = await invoke(user.client, "create-chat", { session: { title: "many" } });
  const sessionId = created.body.session!.id;
  const chats = await Promise.all(Array.from({ length: 24 }, async () => {
    const { body } = await invoke(user.client, "create-chat", { session_id: sessionId });
    return body.chat.id;
  }));

  let writing = true;
  const violations: string[] = [];
  const reader = (async () => {
    const after = new Map(chats.map((c) => [c, 0]));
    while (writing) {
      for (const chat of chats) {
        const page = await sql`
          select seq::int as seq from chat_messages where chat_id = ${chat} and seq > ${after.get(chat)!}
           order by seq limit 50`;
        for (const { seq } of page) {
          if (seq !== after.get(chat)! + 1) violations.push(`${chat}: saw ${seq} after ${after.get(chat)}`);
          after.set(chat, seq);
        }
      }
    }
  })();

  const statuses: number[] = [];
  await Promise.all(chats.flatMap((chat) =>
    [0, 1].map(async (writer) => {
      for (let i = 0; i < appends; i++) {
        const message = uiMessage(uid(`w${writer}`), "user", `message ${i}`);
        statuses.push((await invoke(user.client, "append-message", { chat_id: chat, message })).status);
      }
    })
  ));
  writing = false;
  await reader;

  expect(statuses.filter((s) => s !== 201)).toEqual([]);
  expect(violations).toEqual([]);
  const rows = await sql`
    select chat_id, array_agg(seq::int order by seq) as seqs from chat_messages
     where chat_id in ${sql(chats)} group by chat_id`;
  expect(rows.length).toBe(24);
  for (const row of rows) expect(row.seqs).toEqual(Array.from({ length: 2 * appends }, (_, i) => i + 1));
});
