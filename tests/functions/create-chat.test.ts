// create-chat through the real Deno server, called with supabase-js.
import { describe, expect, it } from "vitest";
import { createChatResponse } from "../../functions/_shared/schemas/mod.ts";
import { invoke, newUser, service, storedRow, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();

describe("create-chat with a new session", () => {
  it("creates the caller's account, the session and its first chat in one call (201)", async () => {
    const user = await newUser();
    const sessionId = uid("session"), chatId = uid("chat");
    const { status, body } = await invoke(user.client, "create-chat", {
      session: { id: sessionId, title: "Refactor the parser", repo_owner: "acme", repo_name: "parser", branch: "main" },
      chat: { id: chatId, model_id: "anthropic/claude" },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      created: true,
      session: { id: sessionId, account_id: user.accountId, title: "Refactor the parser", status: "running" },
      chat: { id: chatId, session_id: sessionId, title: "New chat", model_id: "anthropic/claude" },
    });
    const [row] = await sql`
      select s.account_id, c.model_id from sessions s join chats c on c.session_id = s.id where c.id = ${chatId}`;
    expect(row).toEqual({ account_id: user.accountId, model_id: "anthropic/claude" });
    expect((await sql`select 1 from accounts where id = ${user.accountId}`).length).toBe(1);
    // The answer is the stored rows, whole, in the envelope its response schema describes.
    expect(body.chat).toEqual(await storedRow(sql, "chats", chatId));
    expect(body.session).toEqual(await storedRow(sql, "sessions", sessionId));
    expect(createChatResponse.safeParse({ ...body, extra: true }).success).toBe(false);
  });

  it("mints ids when none are given", async () => {
    const user = await newUser();
    const { status, body } = await invoke(
      user.client,
      "create-chat",
      { session: { title: "No ids" } },
    );
    expect(status).toBe(201);
    expect(body.chat.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.session!.id).not.toBe(body.chat.id);
  });

  it("a retry with the same ids returns the same session and chat (200) and writes nothing new", async () => {
    const user = await newUser();
    const request = { session: { id: uid("session"), title: "Retried" }, chat: { id: uid("chat") } };
    expect((await invoke(user.client, "create-chat", request)).status).toBe(201);
    const retry = await invoke(user.client, "create-chat", request);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ created: false, chat: { id: request.chat.id } });
    const [{ n }] = await sql`select count(*)::int as n from sessions where account_id = ${user.accountId}`;
    expect(n).toBe(1);
  });

  it("another account's session id is a conflict (409), and nothing is written", async () => {
    const owner = await userWithChat();
    const intruder = await newUser();
    const { status, body } = await invoke(intruder.client, "create-chat", {
      session: { id: owner.sessionId, title: "mine now" },
      chat: { id: uid("chat") },
    });
    expect(status).toBe(409);
    expect(body).toMatchObject({ error: { code: "conflict" } });
    const [s] = await sql`select title, account_id from sessions where id = ${owner.sessionId}`;
    expect(s).toEqual({ title: "Test session", account_id: owner.accountId });
  });

  it("the service role must name the account, and creates the session for it", async () => {
    const missing = await invoke(service, "create-chat", { session: { title: "for someone" } });
    expect(missing.status).toBe(400);
    const accountId = crypto.randomUUID();
    const { status, body } = await invoke(service, "create-chat", {
      session: { title: "for someone" },
      account_id: accountId,
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({ session: { account_id: accountId } });
  });

  it("a user cannot create a session for another account (403)", async () => {
    const user = await newUser();
    const { status } = await invoke(user.client, "create-chat", {
      session: { title: "x" },
      account_id: crypto.randomUUID(),
    });
    expect(status).toBe(403);
  });
});

describe("create-chat in an existing session", () => {
  it("creates a chat in the caller's session (201), then returns it on retry (200)", async () => {
    const user = await userWithChat();
    const chatId = uid("chat");
    const first = await invoke(user.client, "create-chat", { session_id: user.sessionId, id: chatId, title: "Second" });
    expect(first).toMatchObject({ status: 201, body: { created: true, chat: { id: chatId, title: "Second" } } });
    const retry = await invoke(user.client, "create-chat", { session_id: user.sessionId, id: chatId, title: "Second" });
    expect(retry).toMatchObject({ status: 200, body: { created: false, chat: { id: chatId } } });
  });

  it("the same chat id in another session is a conflict (409)", async () => {
    const user = await userWithChat();
    const other = await invoke(user.client, "create-chat", {
      session: { title: "Other" },
    });
    const { status } = await invoke(user.client, "create-chat", {
      session_id: other.body.session!.id,
      id: user.chatId,
    });
    expect(status).toBe(409);
  });

  it("someone else's session, or one that does not exist, is not found (404)", async () => {
    const owner = await userWithChat();
    const intruder = await newUser();
    const theirs = await invoke(intruder.client, "create-chat", { session_id: owner.sessionId });
    const nowhere = await invoke(intruder.client, "create-chat", { session_id: "no-such-session" });
    expect(theirs.status).toBe(404);
    expect(nowhere.status).toBe(404);
    // The same answer either way: a 404 never reveals that someone else's session exists.
    expect(theirs.body).toMatchObject({ error: { code: "not_found" } });
    expect(nowhere.body).toMatchObject({ error: { code: "not_found" } });
    const [{ n }] = await sql`select count(*)::int as n from chats where session_id = ${owner.sessionId}`;
    expect(n).toBe(1);
  });
});
