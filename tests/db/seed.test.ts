// supabase/seed.sql is demo data that runs on an empty migrated database, as a preview branch does,
// and can run twice.
import { expect, it } from "vitest";
import { seed } from "../../scripts/local-stack/database.ts";
import { demoAccountId } from "../../scripts/local-stack/config.ts";
import { asUser, useTestDatabase } from "../support/db.ts";

const { sql } = await useTestDatabase();

it("seeds one demo account, session and chat that the demo user can read", async () => {
  await seed(sql);
  await seed(sql);
  const counts = await asUser(sql, demoAccountId, async (tx) =>
    (await tx`
      select (select count(*) from sessions)::int as sessions, (select count(*) from chats)::int as chats,
             (select count(*) from chat_messages)::int as messages`)[0]);
  expect(counts).toEqual({ sessions: 1, chats: 1, messages: 2 });
});

it("seeds through the API's rules: the chat is idle, knows when the agent last spoke, and is unread", async () => {
  await seed(sql);
  const [chat] = await asUser(
    sql,
    demoAccountId,
    (tx) =>
      tx`select c.status, (c.last_assistant_message_at is not null) as answered,
              (private.chat_summary(c) ->> 'has_unread')::boolean as unread
         from chats c where c.id = 'demo-chat'`,
  );
  expect(chat).toEqual({ status: "idle", answered: true, unread: true });
});
