// Migration 20261125160000: the change hints (chat_changes, chat_work) can be sent after commit,
// and chats of one session no longer wait for each other on the session's row; migration
// 20261206160000: the call's answer says what it deferred, and the second call that sends it is made
// only when there is something. Both through the exact texts the edge functions send (callText,
// announcementsText), on real PostgreSQL.
import { describe, expect, it } from "vitest";
import { announcementsText, callText, type Deferred } from "../../functions/_shared/call-text.ts";
import { connect, type Sql } from "../../scripts/local-stack/database.ts";
import { age, asServiceRole, asUser, failure, useTestDatabase } from "../support/db.ts";
import { id, makeAccount, makeChat, makeSession, ownedChat, uiMessage } from "../support/factories.ts";

const { sql, url } = await useTestDatabase();

/** What append-message sends for one message, with or without deferred hints. */
const appendText = (accountId: string, chatId: string, message: unknown, announce: boolean) =>
  callText({
    role: "authenticated",
    claims: { sub: accountId, role: "authenticated", aud: "authenticated" },
    fn: "append_message",
    args: { chat_id: chatId, message },
    statementTimeout: "5s",
    lockTimeout: "1s",
    announce,
  });

type Answer = { json: string } & Deferred;

/**
 * Runs `text` as one simple query, as the function's pool does, then, as functions/_shared/db.ts
 * does, the second call with the hints it deferred when there are any (`secondCalls` counts them).
 */
let secondCalls = 0;
async function send(text: string, on: Sql = sql) {
  const results = await on.unsafe(text).simple() as unknown as Answer[][];
  const hints = announcementsText(results[1][0]);
  if (hints) {
    secondCalls++;
    await sql.unsafe(hints).simple();
  }
  return results;
}

/** Follows `chatId` (as a change feed does) and collects everything heard about it on chat_changes and chat_work. */
async function listen(chatId: string) {
  await asServiceRole(sql, (tx) => tx`select public.follow_chats(${[chatId]})`);
  const listener = connect(url, { max: 1 });
  const heard: string[] = [];
  await listener.listen("chat_changes", (payload) => {
    const event = JSON.parse(payload);
    if (event.chat_id === chatId) heard.push(`chat_changes ${event.revision}`);
  });
  await listener.listen("chat_work", (payload) => void (payload === chatId && heard.push("chat_work")));
  return { heard, end: () => listener.end() };
}

describe("change hints after commit", () => {
  it("the functions' text commits the write, then announces the chat's revision and its pending status", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const { heard, end } = await listen(chat.id);
    const results = await send(appendText(accountId, chat.id, uiMessage(id("m"), "user"), true));
    expect(JSON.parse(results[1][0].json)).toMatchObject({ created: true, message: { seq: 1 } });
    await expect.poll(() => heard.length).toBe(2);
    expect(heard.sort()).toEqual(["chat_changes 1", "chat_work"]);
    await end();
  });

  it("a deferred hint is not sent by the commit itself, only by the second call with what the first returned", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const { heard, end } = await listen(chat.id);
    const connection = await sql.reserve();
    let deferred: Deferred;
    try {
      await connection`begin`;
      await connection`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
        JSON.stringify({ sub: accountId, role: "authenticated" })
      }, true), set_config('chat.announce', 'after_commit', true)`;
      await connection`select public.append_message(${chat.id}, ${connection.json(uiMessage(id("m"), "user"))})`;
      [deferred] = await connection`
        select current_setting('chat.changed', true) as changed, current_setting('chat.became_pending', true)
               as became_pending`;
      await connection`commit`;
      // The lists lived as long as the transaction.
      const [after] = await connection`select current_setting('chat.changed', true) as changed`;
      expect(after.changed ?? "").toBe("");
    } finally {
      connection.release();
    }
    expect(deferred).toEqual({ changed: `{${chat.id}}`, became_pending: `{${chat.id}}` });
    // A probe notification sent after the commit arrives after anything the commit sent.
    await sql`select pg_notify('chat_work', ${chat.id + "-probe"})`;
    await sql`select pg_sleep(0.2)`;
    expect(heard).toEqual([]);
    await sql.unsafe(announcementsText(deferred)!).simple();
    await expect.poll(() => heard.length).toBe(2);
    expect(heard.sort()).toEqual(["chat_changes 1", "chat_work"]);
    await end();
  });

  it("an append that defers nothing (a chat nobody follows, already pending) makes no second call", async () => {
    const { accountId, chat } = await ownedChat(sql);
    await send(appendText(accountId, chat.id, uiMessage(id("m"), "user"), true));
    const before = secondCalls;
    const results = await send(appendText(accountId, chat.id, uiMessage(id("m"), "user"), true));
    expect(JSON.parse(results[1][0].json)).toMatchObject({ created: true });
    expect(announcementsText(results[1][0])).toBeUndefined();
    expect(secondCalls).toBe(before);
  });

  it("a call that fails announces nothing and leaves nothing to announce later", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const { heard, end } = await listen(chat.id);
    const connection = await sql.reserve();
    const secondCallsBefore = secondCalls;
    try {
      // An assistant message without parts is refused by the database: the text stops there.
      const refused = await failure(
        send(appendText(accountId, chat.id, { id: id("a"), role: "assistant", parts: "no" }, true), connection),
      );
      expect(refused).toBeDefined();
      const [{ changed, pending }] = await connection`
        select current_setting('chat.changed', true) as changed, current_setting('chat.became_pending', true) as pending`;
      expect([changed ?? "", pending ?? ""]).toEqual(["", ""]);
      expect(secondCalls).toBe(secondCallsBefore);
    } finally {
      connection.release();
    }
    await sql`select pg_sleep(0.2)`;
    expect(heard).toEqual([]);
    expect((await sql`select revision from chats where id = ${chat.id}`)[0].revision).toBe("0");
    await end();
  });

  it("a write without the setting (SQL, supabase.rpc, pg_cron) still notifies at its own commit", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const { heard, end } = await listen(chat.id);
    await send(appendText(accountId, chat.id, uiMessage(id("m"), "user"), false));
    await expect.poll(() => heard.length).toBe(2);
    expect(heard.sort()).toEqual(["chat_changes 1", "chat_work"]);
    await end();
  });

  it("chat ids holding commas, quotes and braces survive the deferred list", async () => {
    const accountId = await makeAccount(sql);
    const session = await makeSession(sql, accountId);
    const chat = await makeChat(sql, session.id, { id: `x,"{}\\'$_ ${id("c")}` });
    const { heard, end } = await listen(chat.id);
    await send(appendText(accountId, chat.id, uiMessage(id("m"), "user"), true));
    await expect.poll(() => heard.length).toBe(2);
    await end();
  });
});

describe("hints only for followed chats", () => {
  it("a chat nobody follows gets no chat_changes hint, but still wakes workers on chat_work", async () => {
    const { accountId, chat } = await ownedChat(sql);
    const listener = connect(url, { max: 1 });
    const heard: string[] = [];
    await listener.listen(
      "chat_changes",
      (payload) => void (JSON.parse(payload).chat_id === chat.id && heard.push("chat_changes")),
    );
    await listener.listen("chat_work", (payload) => void (payload === chat.id && heard.push("chat_work")));
    await send(appendText(accountId, chat.id, uiMessage(id("m"), "user"), true));
    await send(appendText(accountId, chat.id, uiMessage(id("a"), "assistant"), false));
    await expect.poll(() => heard.length).toBe(1);
    await sql`select pg_sleep(0.2)`;
    expect(heard).toEqual(["chat_work"]);
    await listener.end();
  });

  it("a registration lapses 30 s after its last renewal; a renewal writes only when it has under 20 s left", async () => {
    const { chat } = await ownedChat(sql);
    const follow = () => asServiceRole(sql, (tx) => tx`select public.follow_chats(${[chat.id, chat.id]}) as r`);
    const until = async () =>
      (await sql`select until from private.followed_chats where chat_id = ${chat.id}`)[0]?.until;
    const followed = async () => (await sql`select private.is_followed(${chat.id}) as f`)[0].f;
    expect(await followed()).toBe(false);
    await follow();
    const first = await until();
    expect(await followed()).toBe(true);
    await follow();
    expect(await until()).toEqual(first);
    await sql`update private.followed_chats set until = now() - interval '1 second' where chat_id = ${chat.id}`;
    expect(await followed()).toBe(false);
    await follow();
    expect(await followed()).toBe(true);
    // Long-lapsed registrations are cleared by the next call.
    await sql`update private.followed_chats set until = now() - interval '2 minutes' where chat_id = ${chat.id}`;
    await asServiceRole(sql, (tx) => tx`select public.follow_chats(${[id("other")]})`);
    expect(await until()).toBeUndefined();
  });

  it("only the service role may register, and no API role can read or write the registrations", async () => {
    const accountId = await makeAccount(sql);
    const refused = await failure(asUser(sql, accountId, (tx) => tx`select public.follow_chats(${["x"]})`));
    expect(refused).toMatchObject({ code: "42501" });
    for (const role of ["anon", "authenticated", "service_role"]) {
      const [{ any }] = await sql`
        select has_table_privilege(${role}, 'private.followed_chats', 'select, insert, update, delete') as any`;
      expect(any, role).toBe(false);
    }
  });
});

describe("the session touch", () => {
  it("chats of one session append side by side: the second does not wait for the first's session lock", async () => {
    const { accountId, session, chat } = await ownedChat(sql);
    const other = await makeChat(sql, session.id);
    await sql`update sessions set updated_at = now() - interval '1 hour' where id = ${session.id}`;
    const first = await sql.reserve();
    try {
      await first`begin`;
      await first`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
        JSON.stringify({ sub: accountId, role: "authenticated" })
      }, true)`;
      await first`select public.append_message(${chat.id}, ${first.json(uiMessage(id("m"), "user"))})`;
      // The first transaction holds the session's row; the second's lock_timeout is 1 s.
      const results = await send(appendText(accountId, other.id, uiMessage(id("m"), "user"), true));
      expect(JSON.parse(results[1][0].json)).toMatchObject({ created: true });
      await first`commit`;
    } finally {
      first.release();
    }
    const [row] =
      await sql`select updated_at > now() - interval '1 minute' as moved from sessions where id = ${session.id}`;
    expect(row.moved).toBe(true);
  });

  it("a lone chat change still moves its session's updated_at to the change's time", async () => {
    const { accountId, session, chat } = await ownedChat(sql);
    await age(sql, "sessions", session.id, { updated_at: "1 hour" });
    await age(sql, "chats", chat.id, { updated_at: "1 hour" });
    const [{ r }] = await asUser(
      sql,
      accountId,
      (tx) => tx`select public.append_message(${chat.id}, ${tx.json(uiMessage(id("m"), "user"))}) as r`,
    );
    const [row] = await sql`select updated_at from sessions where id = ${session.id}`;
    expect(row.updated_at.toISOString()).toBe(new Date(r.message.created_at).toISOString());
  });
});
