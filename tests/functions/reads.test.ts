// list-sessions, list-chats and get-messages over HTTP with supabase-js, as a chat UI calls them:
// GET with query-string parameters, the same auth and error contract as the writes, and every
// response parsed with the schema the functions export.
import { uiMessage } from "../support/factories.ts";
import { beforeAll, describe, expect, it } from "vitest";
import { getMessagesResponse, listChatsResponse, listSessionsResponse } from "../../functions/_shared/schemas/mod.ts";
import { apiUrl, invoke, newUser, service, uid, userWithChat } from "../support/functions.ts";

type Client = Awaited<ReturnType<typeof newUser>>["client"];

/** GET through supabase-js: the query string rides on the function name. */
async function read(client: Client, nameAndQuery: string) {
  const { data, error, response } = await client.functions.invoke(nameAndQuery, { method: "GET" });
  if (error && "context" in error) {
    const res = error.context as Response;
    return { status: res.status, body: await res.json() };
  }
  if (error) throw error;
  return { status: response!.status, body: data };
}

describe("list-chats and list-sessions", () => {
  let user: Awaited<ReturnType<typeof userWithChat>>;
  let quietChat: string;
  beforeAll(async () => {
    user = await userWithChat();
    quietChat = uid("chat");
    await invoke(user.client, "create-chat", { session_id: user.sessionId, id: quietChat });
    await invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(uid("u"), "user", "Hi") });
    await invoke(service, "append-message", {
      chat_id: user.chatId,
      message: uiMessage(uid("a"), "assistant", "Hello"),
    });
  });

  it("lists the caller's chats newest first, with has_unread until mark-read", async () => {
    const { status, body } = await read(user.client, `list-chats?session_id=${user.sessionId}`);
    expect(status).toBe(200);
    const page = listChatsResponse.parse(body);
    expect(page.chats.map((c) => [c.id, c.has_unread])).toEqual([[user.chatId, true], [quietChat, false]]);
    expect(page.next_cursor).toBeNull();

    await invoke(user.client, "mark-read", { chat_id: user.chatId });
    const after = listChatsResponse.parse((await read(user.client, "list-chats")).body);
    expect(after.chats.find((c) => c.id === user.chatId)?.has_unread).toBe(false);
  });

  it("pages with limit and the opaque next_cursor", async () => {
    const first = listChatsResponse.parse((await read(user.client, "list-chats?limit=1")).body);
    expect(first.chats).toHaveLength(1);
    const second = listChatsResponse.parse(
      (await read(user.client, `list-chats?limit=1&cursor=${encodeURIComponent(first.next_cursor!)}`)).body,
    );
    expect(second.chats.map((c) => c.id)).toEqual([quietChat]);
    expect(second.next_cursor).toBeNull();
  });

  it("lists sessions with chat_count and flags; the service role names the account", async () => {
    const mine = listSessionsResponse.parse((await read(user.client, "list-sessions")).body);
    expect(mine.sessions.map((s) => [s.id, s.chat_count])).toEqual([[user.sessionId, 2]]);
    const forService = await read(service, `list-sessions?account_id=${user.accountId}`);
    expect(listSessionsResponse.parse(forService.body).sessions.map((s) => s.id)).toEqual([user.sessionId]);
    expect((await read(service, "list-sessions")).status).toBe(400);
  });

  it("another account sees nothing of it", async () => {
    const stranger = await newUser();
    expect(listChatsResponse.parse((await read(stranger.client, "list-chats")).body).chats).toEqual([]);
    expect((await read(stranger.client, `get-messages?chat_id=${user.chatId}`)).status).toBe(404);
  });
});

describe("get-messages", () => {
  let user: Awaited<ReturnType<typeof userWithChat>>;
  beforeAll(async () => {
    user = await userWithChat();
    for (let i = 1; i <= 7; i++) {
      await invoke(user.client, "append-message", {
        chat_id: user.chatId,
        message: uiMessage(`${user.chatId}-${i}`, "user", `m${i}`),
      });
    }
  });
  const seqs = (body: unknown) => getMessagesResponse.parse(body).messages.map((m) => m.seq);

  it("opens on the last page and pages back and forward by seq", async () => {
    const last = await read(user.client, `get-messages?chat_id=${user.chatId}&limit=3`);
    expect(last.status).toBe(200);
    expect(seqs(last.body)).toEqual([5, 6, 7]);
    expect(last.body.has_more).toBe(true);
    expect(last.body.messages[2].message).toEqual(uiMessage(`${user.chatId}-7`, "user", "m7"));
    expect(seqs((await read(user.client, `get-messages?chat_id=${user.chatId}&before_seq=5&limit=3`)).body))
      .toEqual([2, 3, 4]);
    expect(seqs((await read(user.client, `get-messages?chat_id=${user.chatId}&after_seq=5`)).body)).toEqual([6, 7]);
  });

  it("answers 400 naming the parameter for a bad limit, both cursors, unknown parameters and a missing chat_id", async () => {
    const cases: [string, string][] = [
      [`chat_id=${user.chatId}&limit=201`, "limit"],
      [`chat_id=${user.chatId}&limit=0`, "limit"],
      [`chat_id=${user.chatId}&limit=ten`, "limit"],
      [`chat_id=${user.chatId}&after_seq=1&before_seq=3`, "before_seq"],
      [`chat_id=${user.chatId}&page=2`, "page"],
      ["limit=5", "chat_id"],
    ];
    for (const [query, field] of cases) {
      const { status, body } = await read(user.client, `get-messages?${query}`);
      expect(status, query).toBe(400);
      expect(JSON.stringify(body.error), query).toContain(field);
      expect(body.error.message, query).not.toMatch(/NaN/);
    }
  });

  it("refuses POST and anonymous calls with the JSON error contract", async () => {
    const post = await fetch(`${apiUrl}/functions/v1/get-messages?chat_id=${user.chatId}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toContain("GET");
    const anonymous = await fetch(`${apiUrl}/functions/v1/get-messages?chat_id=${user.chatId}`);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe("unauthorized");
  });
});
