// Live streaming end to end, with real clients: the example worker (a real process: streamText with
// the AI SDK's mock model) forwards its UI message stream with append-chunks; the AI SDK's own
// DefaultChatTransport talks to the chat endpoint, followers read follow-chat and rebuild messages
// with the client helper (client/follow-chat.ts). What they rebuild must equal what is stored.
import { DefaultChatTransport, type UIMessage } from "ai";
import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChatView } from "../../client/follow-chat.ts";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { applyAll, follow } from "../support/follow.ts";
import { readReply, textOf } from "../support/ui-stream.ts";
import { startWorker, until } from "../support/worker.ts";
import { clientWith, invoke, serviceRoleKey, uid, userJwt } from "../support/functions.ts";

let stack: ThrowawayStack;
beforeAll(async () => {
  stack = await throwawayStack({ STALE_AFTER: "2s" });
});
const workers = new Set<ChildProcess>();
/** The example worker on this file's stack, killed after each test; a quick mock model unless `env` says otherwise. */
function worker(env: Record<string, string> = {}) {
  const started = startWorker(stack, { MOCK_CHUNK_DELAY_MS: "20", ...env });
  workers.add(started);
  return started;
}
afterEach(() => {
  workers.forEach((worker) => worker.kill("SIGKILL"));
  workers.clear();
});
afterAll(async () => {
  await stack?.stop();
});

/** A question long enough that its answer (the mock model repeats it) streams in many deltas. */
const question = (words = 30) => Array.from({ length: words }, (_, i) => `word${i}`).join(" ");
const userMessage = (text = question()): UIMessage => ({
  id: uid("u"),
  role: "user",
  parts: [{ type: "text", text }],
});

async function newChat() {
  const token = await userJwt(crypto.randomUUID());
  const client = clientWith(token, stack.apiUrl);
  const chatId = uid("chat");
  const { status } = await invoke(client, "create-chat", { session: { title: "streaming" }, chat: { id: chatId } });
  expect(status).toBe(201);
  const transport = new DefaultChatTransport({
    api: `${stack.apiUrl}/functions/v1/chat`,
    headers: { Authorization: `Bearer ${token}` },
  });
  return { token, client, chatId, transport };
}

/** The chat's stored messages, as get-messages returns them. */
async function stored(chat: Awaited<ReturnType<typeof newChat>>): Promise<UIMessage[]> {
  const { data } = await chat.client.functions.invoke(`get-messages?chat_id=${chat.chatId}`, { method: "GET" });
  return (data as { messages: { message: UIMessage }[] }).messages.map((m) => m.message);
}

const chatRow = (chatId: string) =>
  stack.sql`select status, revision::int from chats where id = ${chatId}`.then((rows) => rows[0]);

const followUrl = (chatId: string) => `${stack.apiUrl}/functions/v1/follow-chat?chat_id=${encodeURIComponent(chatId)}`;

describe("the chat endpoint with the AI SDK's DefaultChatTransport", () => {
  it("sendMessages yields the reply chunk by chunk; rebuilt, it equals what get-messages stores", async () => {
    worker();
    const chat = await newChat();
    const sent = userMessage();
    const stream = await chat.transport.sendMessages({
      chatId: chat.chatId,
      messages: [sent],
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
    });
    const reply = await readReply(stream);
    expect(reply.chunks[0]).toMatchObject({ type: "start", messageId: expect.any(String) });
    expect(reply.chunks.at(-1)).toEqual({ type: "finish", finishReason: "stop" });
    // Many snapshots with growing text, not one per step.
    const lengths = [...new Set(reply.snapshots.map((m) => textOf(m).length))];
    expect(lengths.length).toBeGreaterThan(20);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));

    await until(() => chatRow(chat.chatId), (row) => row.status === "idle");
    const messages = await stored(chat);
    expect(messages.map((m) => m.id)).toEqual([sent.id, reply.message!.id]);
    expect(messages[1]).toEqual(reply.message);
  });

  it("reconnectToStream mid-turn replays the reply from its start and rebuilds the same message; after the turn it is null", async () => {
    worker({ MOCK_CHUNK_DELAY_MS: "60" });
    const chat = await newChat();
    await invoke(chat.client, "append-message", { chat_id: chat.chatId, message: userMessage() });
    await until(
      () => stack.sql`select coalesce(max(next_index), 0)::int as n from chat_streams where chat_id = ${chat.chatId}`,
      (rows) => rows[0].n > 12,
    );
    const stream = await chat.transport.reconnectToStream({ chatId: chat.chatId });
    expect(stream).not.toBeNull();
    const reply = await readReply(stream!);
    expect(reply.chunks[0].type).toBe("start");
    await until(() => chatRow(chat.chatId), (row) => row.status === "idle");
    expect((await stored(chat))[1]).toEqual(reply.message);
    expect(await chat.transport.reconnectToStream({ chatId: chat.chatId })).toBeNull();
  });

  it("a message sent while the agent is busy is queued: the response waits for its turn, then streams its reply", async () => {
    worker({ MOCK_CHUNK_DELAY_MS: "40" });
    const chat = await newChat();
    await invoke(chat.client, "append-message", { chat_id: chat.chatId, message: userMessage("first") });
    await until(() => chatRow(chat.chatId), (row) => row.status === "running");
    const second = userMessage("second question");
    const stream = await chat.transport.sendMessages({
      chatId: chat.chatId,
      messages: [second],
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
    });
    expect((await stack.sql`select 1 from chat_queued_messages where id = ${second.id}`).length).toBe(1);
    const reply = await readReply(stream);
    expect(textOf(reply.message)).toBe('I read the file. Answer to "second question": done.');
    await until(() => chatRow(chat.chatId), (row) => row.status === "idle");
    const messages = await stored(chat);
    expect(messages.map((m) => m.id).slice(2, 4)).toEqual([second.id, reply.message!.id]);
    expect(messages[3]).toEqual(reply.message);
  });

  it("a turn that cannot start (the account went over its budget) ends the response with an error chunk", async () => {
    // No worker: the claim below is the only one, made once the response is waiting.
    const chat = await newChat();
    const stream = await chat.transport.sendMessages({
      chatId: chat.chatId,
      messages: [userMessage()],
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
    });
    const reading = readReply(stream);
    const [owner] = await stack.sql`
      select s.account_id from sessions s join chats c on c.session_id = s.id where c.id = ${chat.chatId}`;
    await stack.sql`insert into account_budgets (account_id, limit_cost_micros) values (${owner.account_id}, 0)`;
    const { body } = await invoke(clientWith(serviceRoleKey, stack.apiUrl), "claim-chats", {
      runner_id: "budget-test",
      chat_ids: [chat.chatId],
    });
    expect(body).toEqual({ claims: [] });
    const reply = await reading;
    expect(reply.chunks).toEqual([{ type: "error", errorText: "the agent did not answer: budget_exceeded" }]);
  });

  it("answers a preflight and puts Access-Control-Allow-Origin on every answer, 204 and errors included", async () => {
    const chat = await newChat();
    const preflight = await fetch(`${stack.apiUrl}/functions/v1/chat/${chat.chatId}/stream`, {
      method: "OPTIONS",
      headers: {
        Origin: "http://localhost:5173",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toMatch(/GET/);
    expect(preflight.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/content-type/);
    const idle = await fetch(`${stack.apiUrl}/functions/v1/chat/${chat.chatId}/stream`, {
      headers: { Authorization: `Bearer ${chat.token}` },
    });
    expect(idle.status).toBe(204);
    expect(idle.headers.get("access-control-allow-origin")).toBe("*");
    const stranger = await fetch(`${stack.apiUrl}/functions/v1/chat/${chat.chatId}/stream`, {
      headers: { Authorization: `Bearer ${await userJwt(crypto.randomUUID())}` },
    });
    expect(stranger.status).toBe(404);
    expect(stranger.headers.get("access-control-allow-origin")).toBe("*");
    const unauthenticated = await fetch(`${stack.apiUrl}/functions/v1/chat`, { method: "POST", body: "{}" });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("followers of a streaming reply", () => {
  it("a follower cut off mid-turn, again and again, resumes with Last-Event-ID: every chunk once, the exact message", async () => {
    worker({ MOCK_CHUNK_DELAY_MS: "30" });
    const chat = await newChat();
    const view = new ChatView();
    let cursor: string | undefined;
    const seen = new Set<string>();
    let connections = 0;
    const sent = userMessage(question(60));
    let sentYet = false;
    for (;;) {
      const follower = await follow(followUrl(chat.chatId), { token: chat.token, lastEventId: cursor });
      connections++;
      if (!sentYet) {
        await invoke(chat.client, "append-message", { chat_id: chat.chatId, message: sent });
        sentYet = true;
      }
      // Cut after a few more chunks, or stay to the end once the turn is over.
      const target = follower.events.filter((e) => e.event === "chunk").length + 7;
      await follower.until((events) =>
        events.filter((e) => e.event === "chunk").length >= target ||
        events.some((e) => e.event === "chat" && e.data.status === "idle" && e.data.last_message_seq === 2), 15_000);
      follower.cut();
      await follower.closed;
      for (const event of follower.events) {
        if (event.event !== "chunk") continue;
        const key = `${event.data.message_id}/${event.data.index}`;
        expect(seen.has(key), `chunk ${key} delivered twice`).toBe(false);
        seen.add(key);
      }
      applyAll(view, follower);
      cursor = follower.lastEventId();
      if (view.chat?.status === "idle" && view.chat.last_message_seq === 2) break;
    }
    expect(connections).toBeGreaterThan(3);
    const messages = await stored(chat);
    expect(await view.messages()).toEqual(messages);
    expect(seen.size).toBeGreaterThan(60);
  });

  it("50 followers of one streaming turn each rebuild it exactly", async () => {
    worker();
    const chat = await newChat();
    const followers = await Promise.all(
      Array.from({ length: 50 }, () => follow(followUrl(chat.chatId), { token: chat.token })),
    );
    await invoke(chat.client, "append-message", { chat_id: chat.chatId, message: userMessage() });
    await until(() => chatRow(chat.chatId), (row) => row.status === "idle");
    const final = await stored(chat);
    await Promise.all(
      followers.map((f) => f.until((events) => events.some((e) => e.event === "chat" && e.data.status === "idle"))),
    );
    for (const follower of followers) {
      follower.cut();
      const view = new ChatView();
      applyAll(view, follower);
      expect(await view.messages()).toEqual(final);
      expect(follower.events.filter((e) => e.event === "chunk").length).toBeGreaterThan(30);
    }
  });

  it("a follower that joins mid-turn gets the reply from its start chunk", async () => {
    worker({ MOCK_CHUNK_DELAY_MS: "40" });
    const chat = await newChat();
    await invoke(chat.client, "append-message", { chat_id: chat.chatId, message: userMessage() });
    await until(
      () => stack.sql`select coalesce(max(next_index), 0)::int as n from chat_streams where chat_id = ${chat.chatId}`,
      (rows) => rows[0].n > 10,
    );
    const late = await follow(followUrl(chat.chatId), { token: chat.token });
    await late.until((events) => events.some((e) => e.event === "chat" && e.data.status === "idle"));
    late.cut();
    const chunks = late.events.filter((e) => e.event === "chunk");
    expect(chunks[0].data).toMatchObject({ index: 0, chunk: { type: "start" } });
    // Joined without a cursor: no history, only what happens from now on, the reply in flight included.
    const view = new ChatView();
    applyAll(view, late);
    expect(await view.messages()).toEqual((await stored(chat)).slice(1));
  });
});

describe("stopping and dying mid-turn", () => {
  it("stop-chat: the chat leaves running within 1 s, the run is aborted, and the stored reply is what followers saw", async () => {
    worker({ MOCK_CHUNK_DELAY_MS: "100" });
    const chat = await newChat();
    const follower = await follow(followUrl(chat.chatId), { token: chat.token });
    await invoke(chat.client, "append-message", { chat_id: chat.chatId, message: userMessage() });
    await follower.until((events) =>
      events.filter((e) => e.event === "chunk" && e.data.chunk.type === "text-delta").length >= 5
    );
    const stopped = Date.now();
    expect((await invoke(chat.client, "stop-chat", { chat_id: chat.chatId })).status).toBe(200);
    await until(() => chatRow(chat.chatId), (row) => row.status === "idle", { timeoutMs: 5_000 });
    expect(Date.now() - stopped).toBeLessThan(1000);
    const [run] = await stack.sql`select status from workflow_runs where chat_id = ${chat.chatId}`;
    expect(run.status).toBe("aborted");

    await follower.until((events) => events.some((e) => e.event === "chat" && e.data.status === "idle"));
    follower.cut();
    const view = new ChatView();
    applyAll(view, follower);
    const messages = await stored(chat);
    expect(await view.messages()).toEqual(messages);
    const partial = textOf(messages[1]);
    expect(partial).toMatch(/^I read the file\. /);
    expect(partial).not.toMatch(/done\.$/);
    expect(follower.events.some((e) => e.event === "chunk" && e.data.chunk.type === "abort")).toBe(true);
  });

  it("a worker killed mid-turn: the reply's readers get an end after stale recovery, and the retried turn streams afresh", async () => {
    const doomed = worker({ MOCK_CHUNK_DELAY_MS: "150", RUNNER_ID: "doomed" });
    const chat = await newChat();
    const follower = await follow(followUrl(chat.chatId), { token: chat.token });
    const posted = await chat.transport.sendMessages({
      chatId: chat.chatId,
      messages: [userMessage()],
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
    });
    const reading = readReply(posted);
    await follower.until((events) => events.filter((e) => e.event === "chunk").length >= 6);
    doomed.kill("SIGKILL");
    worker({ RUNNER_ID: "rescuer" });

    // The POST's reply ends: its stream was closed by the recovery (an error, then abort).
    const reply = await reading;
    expect(reply.chunks.slice(-2).map((c) => c.type)).toEqual(["error", "abort"]);
    await until(() => chatRow(chat.chatId), (row) => row.status === "idle");
    await follower.until((events) =>
      events.some((e) => e.event === "chat" && e.data.status === "idle" && e.data.last_message_seq >= 2)
    );
    follower.cut();
    const starts = follower.events.filter((e) => e.event === "chunk" && e.data.chunk.type === "start");
    expect(starts).toHaveLength(2);
    const view = new ChatView();
    applyAll(view, follower);
    const messages = await stored(chat);
    const rebuilt = await view.messages();
    // The rescuer's reply, complete; the doomed run's reply as far as it was stored before it died.
    expect(rebuilt.at(-1)).toEqual(messages.at(-1));
    expect(textOf(messages.at(-1))).toMatch(/done\.$/);
  });
});
