// deno-lint-ignore-file no-explicit-any -- results are untyped jsonb here; the assertions check their shape
// The read operations as SQL functions, called the way supabase.rpc(...) calls them on hosted
// Supabase: lists with unread flags and keyset cursors, message pages by seq, the change feed.
import { beforeAll, describe, expect, it } from "vitest";
import { asAnon, asServiceRole, asUser, failure, useTestDatabase } from "../support/db.ts";
import { id, makeAccount, makeChat, makeSession, uiMessage } from "../support/factories.ts";

const { sql } = await useTestDatabase();

const call = (accountId: string | null, query: string, ...args: unknown[]): Promise<any> => {
  const run = (tx: any) => tx.unsafe(`select ${query} as r`, args as never[]).then((rows: any[]) => rows[0].r);
  return accountId ? asUser(sql, accountId, run) : asServiceRole(sql, run);
};

async function addMessage(chatId: string, role: "user" | "assistant", text = "hello") {
  const messageId = id("m");
  await sql`insert into chat_messages (id, chat_id, role, parts)
            values (${messageId}, ${chatId}, ${role}, ${sql.json(uiMessage(messageId, role, text))})`;
  if (role === "assistant") await sql`update chats set last_assistant_message_at = now() where id = ${chatId}`;
  return messageId;
}

describe("list_chats", () => {
  let owner: string;
  const chatIds: string[] = [];
  let sessionA: string, sessionB: string;
  beforeAll(async () => {
    owner = await makeAccount(sql);
    sessionA = (await makeSession(sql, owner)).id;
    sessionB = (await makeSession(sql, owner)).id;
    // Five chats with the same updated_at: the id breaks the tie, and the cursor must too.
    await sql.begin(async (tx) => {
      for (let i = 0; i < 5; i++) {
        const [chat] = await tx`insert into chats (id, session_id) values (${`tie-${i}-${id("c")}`}, ${
          i < 3 ? sessionA : sessionB
        }) returning id`;
        chatIds.push(chat.id);
      }
    });
  });

  it("pages newest first with an opaque cursor that breaks updated_at ties by id, never repeating or skipping", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call(owner, "public.list_chats(page_size => 2, page_cursor => $1)", cursor);
      expect(page.chats.length).toBeLessThanOrEqual(2);
      seen.push(...page.chats.map((c: any) => c.id));
      cursor = page.next_cursor;
      if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    } while (cursor);
    expect(seen).toEqual([...chatIds].sort().reverse());
  });

  it("lists one session's chats when asked", async () => {
    const page = await call(owner, "public.list_chats(session_id => $1)", sessionB);
    expect(page.chats.map((c: any) => c.session_id)).toEqual([sessionB, sessionB]);
  });

  it("has_unread follows assistant activity against the owner's read marker", async () => {
    const chatId = chatIds[0];
    const flag = async () =>
      (await call(owner, "public.list_chats()")).chats.find((c: any) => c.id === chatId).has_unread;
    expect(await flag()).toBe(false);
    await addMessage(chatId, "user");
    expect(await flag()).toBe(false);
    await addMessage(chatId, "assistant");
    expect(await flag()).toBe(true);
    await call(owner, "public.mark_read($1)", chatId);
    expect(await flag()).toBe(false);
  });

  it("shows a chat with its visible state, revision and the owner's marker", async () => {
    const [chat] = (await call(owner, "public.list_chats(session_id => $1)", sessionA)).chats;
    expect(Object.keys(chat).sort()).toEqual([
      "active_stream_id",
      "archived_at",
      "created_at",
      "has_unread",
      "history_version",
      "id",
      "last_assistant_message_at",
      "last_error",
      "last_message_seq",
      "last_read_at",
      "model_id",
      "revision",
      "session_id",
      "status",
      "status_changed_at",
      "title",
      "updated_at",
      "usage",
    ]);
  });

  it("another account lists nothing; the service role must name the account and then sees its chats", async () => {
    const stranger = crypto.randomUUID();
    expect((await call(stranger, "public.list_chats()")).chats).toEqual([]);
    expect((await failure(call(null, "public.list_chats()")))?.code).toBe("PT400");
    expect((await call(null, "public.list_chats(account_id => $1)", owner)).chats).toHaveLength(5);
    expect((await failure(call(stranger, "public.list_chats(account_id => $1)", owner)))?.code).toBe("PT403");
  });

  it("refuses a page size outside 1..200 and a cursor it did not make", async () => {
    for (const size of [0, 201, -1]) {
      const e = await failure(call(owner, "public.list_chats(page_size => $1)", size));
      expect(e).toMatchObject({ code: "PT400", detail: "invalid_limit" });
    }
    for (const bad of ["nope", "W10", "$_$", "eyJ9", "'; drop table chats; --"]) {
      const e = await failure(call(owner, "public.list_chats(page_cursor => $1)", bad));
      expect(e).toMatchObject({ code: "PT400", detail: "invalid_cursor" });
    }
  });

  it("anon may call none of the reads", async () => {
    for (const query of ["public.list_chats()", "public.list_sessions()", "public.get_messages('x')"]) {
      const e = await failure(asAnon(sql, (tx) => tx.unsafe(`select ${query}`)));
      expect(e?.code).toBe("42501");
    }
  });
});

describe("list_sessions", () => {
  it("lists sessions by latest activity with chat_count, has_unread and has_streaming", async () => {
    const owner = await makeAccount(sql);
    const quiet = await makeSession(sql, owner);
    const busy = await makeSession(sql, owner);
    await makeChat(sql, quiet.id);
    const streaming = await makeChat(sql, busy.id);
    await makeChat(sql, busy.id);
    await addMessage(streaming.id, "assistant");
    await sql`update chats set status = 'pending' where id = ${streaming.id}`;
    await asServiceRole(sql, (tx) => tx`select public.claim_chats('worker', 1, ${[streaming.id]})`);

    const { sessions, next_cursor } = await call(owner, "public.list_sessions()");
    expect(next_cursor).toBeNull();
    expect(sessions.map((s: any) => [s.id, s.chat_count, s.has_unread, s.has_streaming])).toEqual([
      [busy.id, 2, true, true],
      [quiet.id, 1, false, false],
    ]);
    const page = await call(owner, "public.list_sessions(page_size => 1)");
    expect(page.sessions.map((s: any) => s.id)).toEqual([busy.id]);
    const next = await call(owner, "public.list_sessions(page_size => 1, page_cursor => $1)", page.next_cursor);
    expect(next.sessions.map((s: any) => s.id)).toEqual([quiet.id]);
    expect(next.next_cursor).toBeNull();
  });
});

describe("get_messages", () => {
  let owner: string, chatId: string;
  beforeAll(async () => {
    owner = await makeAccount(sql);
    chatId = (await makeChat(sql, (await makeSession(sql, owner)).id)).id;
    for (let i = 1; i <= 12; i++) await addMessage(chatId, i % 2 ? "user" : "assistant", `message ${i}`);
  });
  const seqs = (page: any) => page.messages.map((m: any) => Number(m.seq));

  it("opens on the newest page, ascending, with has_more for older messages", async () => {
    const page = await call(owner, "public.get_messages($1, page_size => 5)", chatId);
    expect(seqs(page)).toEqual([8, 9, 10, 11, 12]);
    expect(page.has_more).toBe(true);
    expect(page.chat).toMatchObject({ id: chatId, last_message_seq: 12 });
    expect(page.messages[0]).toMatchObject({ role: "assistant", message: { role: "assistant" } });
    expect(page.messages[0].message.parts[0].text).toBe("message 8");
  });

  it("scrolls back with before_seq and forward with after_seq, both exclusive", async () => {
    const back = await call(owner, "public.get_messages($1, before_seq => 8, page_size => 5)", chatId);
    expect(seqs(back)).toEqual([3, 4, 5, 6, 7]);
    expect(back.has_more).toBe(true);
    const first = await call(owner, "public.get_messages($1, before_seq => 3, page_size => 5)", chatId);
    expect(seqs(first)).toEqual([1, 2]);
    expect(first.has_more).toBe(false);
    const forward = await call(owner, "public.get_messages($1, after_seq => 9, page_size => 2)", chatId);
    expect(seqs(forward)).toEqual([10, 11]);
    expect(forward.has_more).toBe(true);
    const last = await call(owner, "public.get_messages($1, after_seq => 10, page_size => 2)", chatId);
    expect(seqs(last)).toEqual([11, 12]);
    expect(last.has_more).toBe(false);
  });

  it("refuses both cursors at once and page sizes outside 1..200; hides other accounts' chats", async () => {
    const both = await failure(call(owner, "public.get_messages($1, after_seq => 1, before_seq => 5)", chatId));
    expect(both).toMatchObject({ code: "PT400", detail: "invalid_cursor" });
    expect(await failure(call(owner, "public.get_messages($1, page_size => 201)", chatId))).toMatchObject({
      code: "PT400",
    });
    expect((await failure(call(crypto.randomUUID(), "public.get_messages($1)", chatId)))?.code).toBe("PT404");
    expect(seqs(await call(null, "public.get_messages($1, page_size => 1)", chatId))).toEqual([12]);
  });
});

describe("chat_changes", () => {
  it("sends the messages changed after a revision in revision order, pages with has_more, and refuses a cursor ahead of the chat", async () => {
    const owner = await makeAccount(sql);
    const chatId = (await makeChat(sql, (await makeSession(sql, owner)).id)).id;
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await addMessage(chatId, "user"));

    const none = await call(owner, "public.chat_changes($1)", chatId);
    expect(none.messages).toEqual([]);
    expect(none.chat.revision).toBe(5);

    const page = await call(owner, "public.chat_changes($1, 1, 3)", chatId);
    expect(page.messages.map((m: any) => m.revision)).toEqual([2, 3, 4]);
    expect(page.has_more).toBe(true);
    const rest = await call(owner, "public.chat_changes($1, 4, 3)", chatId);
    expect(rest.messages.map((m: any) => m.id)).toEqual([ids[4]]);
    expect(rest.has_more).toBe(false);

    const ahead = await failure(call(owner, "public.chat_changes($1, 6)", chatId));
    expect(ahead).toMatchObject({ code: "PT400", detail: "cursor_ahead" });
    expect((await failure(call(crypto.randomUUID(), "public.chat_changes($1, 0)", chatId)))?.code).toBe("PT404");
  });
});
