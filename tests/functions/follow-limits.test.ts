// What a follow stream may cost the server (hardening round 3): a follower that stops reading is cut
// off at 4 MiB of backlog and its buffer freed; an account holds a bounded number of streams; a
// chat that moves to another account or is deleted ends its followers; a follow of a chat that is
// not the caller's registers nothing.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { uiMessage } from "../support/factories.ts";
import { follow } from "../support/follow.ts";
import { clientWith, invoke, serviceRoleKey, uid, userJwt } from "../support/functions.ts";

let stack: ThrowawayStack;
beforeAll(async () => {
  stack = await throwawayStack({ FOLLOW_MAX_STREAMS_PER_ACCOUNT: "3" });
});
afterAll(async () => {
  await stack?.stop();
});

async function newChat() {
  const accountId = crypto.randomUUID();
  const token = await userJwt(accountId);
  const client = clientWith(token, stack.apiUrl);
  const chatId = uid("chat");
  const { status } = await invoke(client, "create-chat", { session: { title: "limits" }, chat: { id: chatId } });
  expect(status).toBe(201);
  return { accountId, token, client, chatId };
}

const followUrl = (chatId: string) => `${stack.apiUrl}/functions/v1/follow-chat?chat_id=${encodeURIComponent(chatId)}`;

describe("a follower that stops reading", () => {
  it("is cut off after 4 MiB of backlog with end slow_consumer, and is never sent what it did not read", async () => {
    const chat = await newChat();
    const service = clientWith(serviceRoleKey, stack.apiUrl);
    const socket = net.connect(Number(new URL(stack.apiUrl).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.pause(); // never reads until told to
    socket.write(
      `GET /functions/v1/follow-chat?chat_id=${chat.chatId}&after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${chat.token}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    // 40 rewrites of an ~800 kB assistant message: 32 MB of events for a follower that reads nothing.
    const replyId = uid("reply");
    const filler = "x".repeat(800_000);
    for (let i = 0; i < 40; i++) {
      const { status } = await invoke(service, "append-message", {
        chat_id: chat.chatId,
        message: uiMessage(replyId, "assistant", `${i} ${filler}`),
      });
      expect(status).toBeLessThan(300);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // Now read what was sent: the backlog it was allowed, then the end.
    let received = "";
    socket.on("data", (bytes: Buffer) => (received += bytes.toString("latin1")));
    socket.resume();
    // The response ends (a kept-alive connection stays open), or the connection is cut.
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      socket.once("close", done);
      socket.on("data", () => received.includes("event: end") && received.endsWith("\r\n0\r\n\r\n") && done());
      setTimeout(done, 15_000);
    });
    socket.destroy();
    // What the socket buffers along the way held (the local gateway relays it: two sockets' worth) and the
    // 4 MiB backlog: not the 32 MB the follower did not read, which the function process no longer holds.
    expect(received.length).toBeLessThan(20 << 20);
    expect(received).toContain('event: end\ndata: {"reason":"slow_consumer"');
  }, 60_000);
});

describe("streams per account", () => {
  it("past FOLLOW_MAX_STREAMS_PER_ACCOUNT a new stream is 429 too_many_streams; closing one makes room", async () => {
    const chat = await newChat();
    const open = await Promise.all([1, 2, 3].map(() => follow(followUrl(chat.chatId), { token: chat.token })));
    expect(open.map((f) => f.status)).toEqual([200, 200, 200]);
    const refused = await fetch(followUrl(chat.chatId), { headers: { Authorization: `Bearer ${chat.token}` } });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: "too_many_streams" } });
    // The chat endpoint's streams count too.
    const reconnect = await fetch(`${stack.apiUrl}/functions/v1/chat/${chat.chatId}/stream`, {
      headers: { Authorization: `Bearer ${chat.token}` },
    });
    expect(reconnect.status).toBe(429);
    // Another account is not affected.
    const other = await newChat();
    const theirs = await follow(followUrl(other.chatId), { token: other.token });
    expect(theirs.status).toBe(200);
    theirs.cut();

    open[0].cut();
    await open[0].closed;
    let again: Awaited<ReturnType<typeof follow>> | undefined;
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      again?.cut();
      await new Promise((resolve) => setTimeout(resolve, 100));
      again = await follow(followUrl(chat.chatId), { token: chat.token });
    }
    expect(again?.status).toBe(200);
    [again!, ...open].forEach((f) => f.cut());
  });
});

describe("a chat that leaves the follower's reach", () => {
  it("moved to another account: its followers get end gone at the next change", async () => {
    const chat = await newChat();
    const follower = await follow(followUrl(chat.chatId), { token: chat.token });
    await follower.until((events) => events.some((e) => e.event === "chat"));
    const stranger = crypto.randomUUID();
    await stack.sql`insert into accounts (id) values (${stranger})`;
    await stack.sql`update sessions set account_id = ${stranger}
                      where id = (select session_id from chats where id = ${chat.chatId})`;
    await invoke(clientWith(serviceRoleKey, stack.apiUrl), "append-message", {
      chat_id: chat.chatId,
      message: uiMessage(uid("a"), "assistant", "for the new owner only"),
    });
    await follower.until((events) => events.some((e) => e.event === "end"));
    expect(follower.events.at(-1)).toMatchObject({ event: "end", data: { reason: "gone" } });
    expect(follower.events.some((e) => e.event === "message")).toBe(false);
  });

  it("deleted (or purged): its followers get end gone", async () => {
    const chat = await newChat();
    const follower = await follow(followUrl(chat.chatId), { token: chat.token });
    await follower.until((events) => events.some((e) => e.event === "chat"));
    await stack.sql`delete from chats where id = ${chat.chatId}`;
    await follower.until((events) => events.some((e) => e.event === "end"), 5_000);
    expect(follower.events.at(-1)).toMatchObject({ event: "end", data: { reason: "gone" } });
  });

  it("a follow of a chat that is not the caller's is a 404 and registers nothing", async () => {
    const chat = await newChat();
    const stranger = await userJwt(crypto.randomUUID());
    const before = (await stack.sql`select count(*)::int as n from private.followed_chats`)[0].n;
    for (const chatId of [chat.chatId, ...Array.from({ length: 20 }, () => uid("no-such-chat"))]) {
      const response = await fetch(followUrl(chatId), { headers: { Authorization: `Bearer ${stranger}` } });
      expect(response.status).toBe(404);
      await response.body?.cancel();
    }
    expect((await stack.sql`select count(*)::int as n from private.followed_chats`)[0].n).toBe(before);
  });
});
