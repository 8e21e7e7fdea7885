// follow-chat as a browser follows it: the EventSource API (the `eventsource` package implements
// the WHATWG spec for Node), authenticated with access_token because EventSource cannot send
// headers. FOLLOW_MAX_SECONDS is short here, so every stream ends with `event: end` and EventSource
// reconnects by itself with Last-Event-ID: across those reconnects it must receive every change
// once, in order.
import { EventSource } from "eventsource";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { uiMessage } from "../support/factories.ts";
import { clientWith, invoke, uid, userJwt } from "../support/functions.ts";

let stack: ThrowawayStack;
beforeAll(async () => {
  stack = await throwawayStack({ FOLLOW_MAX_SECONDS: "1" });
});
afterAll(() => stack?.stop());

it(
  "EventSource follows across server-ended streams: each end carries the last revision, nothing is lost or repeated",
  async () => {
    const token = await userJwt(crypto.randomUUID());
    const client = clientWith(token, stack.apiUrl);
    const chatId = uid("chat");
    await invoke(client, "create-chat", { session: { title: "browser" }, chat: { id: chatId } });

    const url = `${stack.apiUrl}/functions/v1/follow-chat?chat_id=${chatId}&after=0&access_token=${token}`;
    const source = new EventSource(url);
    const messageIds: number[] = [];
    const ends: { reason: string; revision: number; lastSeen: number }[] = [];
    let opens = 0;
    let lastId = "0";
    source.addEventListener("open", () => opens++);
    source.addEventListener("message", (e) => messageIds.push(Number(e.lastEventId)));
    source.addEventListener("end", (e) => {
      const data = JSON.parse(e.data);
      ends.push({ ...data, lastSeen: Number(lastId) });
    });
    source.addEventListener("chat", (e) => (lastId = e.lastEventId));
    source.addEventListener("message", (e) => (lastId = e.lastEventId));

    // Write for about three stream lifetimes.
    const written: string[] = [];
    for (let i = 0; i < 30; i++) {
      const id = `${chatId}-m${i}`;
      await invoke(client, "append-message", { chat_id: chatId, message: uiMessage(id, "user", `message ${i}`) });
      written.push(id);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [{ revision }] = await stack.sql`select revision::int from chats where id = ${chatId}`;
    const deadline = Date.now() + 15_000;
    while (Number(lastId) < revision && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    source.close();

    expect(opens).toBeGreaterThanOrEqual(2);
    expect(ends.length).toBeGreaterThanOrEqual(1);
    for (const end of ends) {
      expect(end.reason).toBe("max_duration");
      // The end event names the last revision the stream sent: the client resumes from exactly there.
      expect(end.revision).toBe(end.lastSeen);
    }
    expect(messageIds).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(Number(lastId)).toBe(revision);
  },
  40_000,
);
