// append-message through the real Deno server, called with supabase-js.
import { describe, expect, it } from "vitest";
import { invoke, newUser, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";
import { uiMessage } from "../support/factories.ts";

const sql = useFunctionsDatabase();

describe("user messages", () => {
  it("are stored whole, with their seq, and title a new chat from their text", async () => {
    const user = await userWithChat();
    const message = {
      ...uiMessage(uid("m"), "user", "Please   refactor the parser\nso that it streams"),
      metadata: { a: 1 },
    };
    const { status, body } = await invoke(user.client, "append-message", { chat_id: user.chatId, message });
    expect(status).toBe(201);
    expect(body).toMatchObject({ created: true, message: { id: message.id, seq: 1, message } });
    const [chat] = await sql`select title from chats where id = ${user.chatId}`;
    expect(chat.title).toBe("Please refactor the parser so that it streams");
    const [row] = await sql`select parts from chat_messages where id = ${message.id}`;
    expect(row.parts).toEqual(message);
    // The message as every read shows it (get-messages, follow-chat).
    const [summary] =
      await sql`select private.message_summary(m) as message from chat_messages m where id = ${message.id}`;
    expect(body.message).toEqual(summary.message);
  });

  it("are written once: a retry returns the stored row with created: false (200), unchanged", async () => {
    const user = await userWithChat();
    const message = uiMessage(uid("m"), "user", "original");
    await invoke(user.client, "append-message", { chat_id: user.chatId, message });
    const retry = await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: { ...message, parts: [{ type: "text", text: "edited" }] },
    });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ created: false, message: { id: message.id, seq: 1, message } });
    const [{ n }] = await sql`select count(*)::int as n from chat_messages where id = ${message.id}`;
    expect(n).toBe(1);
  });

  it("the same id in another chat is a conflict (409)", async () => {
    const user = await userWithChat();
    const other = await invoke(user.client, "create-chat", { session_id: user.sessionId });
    const message = uiMessage(uid("m"), "user", "hi");
    await invoke(user.client, "append-message", { chat_id: user.chatId, message });
    const { status } = await invoke(user.client, "append-message", { chat_id: other.body.chat.id, message });
    expect(status).toBe(409);
  });

  it("titles a chat only from its first user message, cut at 80 characters", async () => {
    const user = await userWithChat();
    const long = "x".repeat(100);
    await invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(uid("m"), "user", long) });
    await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(uid("m"), "user", "second"),
    });
    const [chat] = await sql`select title from chats where id = ${user.chatId}`;
    expect(chat.title).toBe("x".repeat(80) + "…");
  });

  it("keep a title the user already chose", async () => {
    const user = await newUser();
    const created = await invoke(user.client, "create-chat", {
      session: { title: "s" },
      chat: { title: "My own title" },
    });
    const chatId = created.body.chat.id;
    await invoke(user.client, "append-message", { chat_id: chatId, message: uiMessage(uid("m"), "user", "hello") });
    expect((await sql`select title from chats where id = ${chatId}`)[0].title).toBe("My own title");
  });
});

describe("assistant messages", () => {
  it("are inserted, then replaced in place once per step, keeping their seq", async () => {
    const user = await userWithChat();
    await invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(uid("m"), "user", "go") });
    const id = uid("a");
    const first = await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(id, "assistant", "step one"),
    });
    expect(first).toMatchObject({ status: 201, body: { created: true, message: { seq: 2 } } });
    const [afterInsert] = await sql`select last_assistant_message_at, updated_at from chats where id = ${user.chatId}`;
    expect(afterInsert.last_assistant_message_at).not.toBeNull();

    const second = await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(id, "assistant", "step two"),
    });
    expect(second).toMatchObject({ status: 200, body: { created: false, message: { seq: 2 } } });
    const rows = await sql`select parts from chat_messages where id = ${id}`;
    expect(rows.length).toBe(1);
    expect(rows[0].parts).toEqual(uiMessage(id, "assistant", "step two"));
    const [afterReplace] = await sql`select updated_at from chats where id = ${user.chatId}`;
    expect(afterReplace.updated_at.getTime()).toBeGreaterThan(afterInsert.updated_at.getTime());
  });

  it("with the id of a user message, or in another chat, are a conflict (409)", async () => {
    const user = await userWithChat();
    const id = uid("m");
    await invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(id, "user", "mine") });
    const asAssistant = await invoke(user.client, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(id, "assistant", "overwrite"),
    });
    expect(asAssistant.status).toBe(409);
    expect((await sql`select role from chat_messages where id = ${id}`)[0].role).toBe("user");
  });
});

describe("ownership", () => {
  it("another account's chat is not found (404), and nothing is written", async () => {
    const owner = await userWithChat();
    const intruder = await newUser();
    const { status } = await invoke(intruder.client, "append-message", {
      chat_id: owner.chatId,
      message: uiMessage(uid("m"), "user", "intrusion"),
    });
    expect(status).toBe(404);
    const [{ n }] = await sql`select count(*)::int as n from chat_messages where chat_id = ${owner.chatId}`;
    expect(n).toBe(0);
  });
});

describe("under concurrency", () => {
  it("16 clients x 50 appends to one chat store exactly 800 rows with unique, increasing seq", async () => {
    const user = await userWithChat();
    const statuses: number[] = [];
    await Promise.all(Array.from({ length: 16 }, async (_, client) => {
      for (let i = 0; i < 50; i++) {
        const { status } = await invoke(user.client, "append-message", {
          chat_id: user.chatId,
          message: uiMessage(`c${client}-m${i}-${user.chatId}`, "user", `client ${client} message ${i}`),
        });
        statuses.push(status);
      }
    }));
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    const rows = await sql`select seq::int as seq from chat_messages where chat_id = ${user.chatId} order by seq`;
    expect(rows.length).toBe(800);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
  });

  it("a retry storm of the same message ids stores each once", async () => {
    const user = await userWithChat();
    const ids = Array.from({ length: 10 }, () => uid("m"));
    const results = await Promise.all(
      Array.from({ length: 8 }).flatMap(() =>
        ids.map((id) =>
          invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(id, "user", id) })
        )
      ),
    );
    expect(results.filter((r) => r.status >= 300)).toEqual([]);
    expect(results.filter((r) => r.status === 201).length).toBe(10);
    const rows = await sql`select id, seq::int as seq from chat_messages where chat_id = ${user.chatId}`;
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(new Set(rows.map((r) => r.seq)).size).toBe(10);
    // Every answer for one id carries the seq that was stored.
    for (const r of results) {
      expect((r.body.message as { seq: number }).seq).toBe(rows.find((row) => row.id === r.body.message.id)!.seq);
    }
  });
});
