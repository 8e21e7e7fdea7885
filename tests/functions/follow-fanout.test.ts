// follow-chat at scale on a stack of its own: 200 followers of one chat while a writer appends and
// rewrites, and 1,000 idle followers held by one function process with one listening connection.
// Timing is measured by `npm run bench`, not here: these tests check delivery and resources.
import { uiMessage } from "../support/factories.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { applied, follow, type Follower } from "../support/follow.ts";
import { clientWith, invoke, uid, userJwt } from "../support/functions.ts";

let stack: ThrowawayStack;
beforeAll(async () => {
  // One user follows one chat 200 times here; the per-account cap has its own test (follow-limits).
  stack = await throwawayStack({ FOLLOW_MAX_SECONDS: "60", FOLLOW_MAX_STREAMS_PER_ACCOUNT: "10000" });
});
afterAll(() => stack?.stop());

async function userWithChat() {
  const token = await userJwt(crypto.randomUUID());
  const client = clientWith(token, stack.apiUrl);
  const chatId = uid("chat");
  await invoke(client, "create-chat", { session: { title: "fan-out" }, chat: { id: chatId } });
  return { token, client, chatId };
}
const followUrl = (chatId: string) => `${stack.apiUrl}/functions/v1/follow-chat?chat_id=${chatId}&after=0`;
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

describe("fan-out", () => {
  it(
    "200 followers of one chat each receive every change once and in order while a writer appends and rewrites",
    async () => {
      const user = await userWithChat();
      const followers: Follower[] = await Promise.all(
        Array.from({ length: 200 }, () => follow(followUrl(user.chatId), { token: user.token })),
      );
      expect(followers.every((f) => f.status === 200)).toBe(true);

      // About 20 changes a second for 3 seconds: a user message, then the agent's reply in three steps.
      let assistantId = "";
      for (let i = 0; i < 60; i++) {
        if (i % 4 === 0) {
          await invoke(user.client, "append-message", {
            chat_id: user.chatId,
            message: uiMessage(uid("u"), "user", `q${i}`),
          });
          assistantId = uid("a");
        } else {
          await invoke(user.client, "append-message", {
            chat_id: user.chatId,
            message: uiMessage(assistantId, "assistant", `answer step ${i % 4}`),
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const [chat] = await stack.sql`select revision::int from chats where id = ${user.chatId}`;
      const rows = await stack.sql`select id, parts from chat_messages where chat_id = ${user.chatId}`;
      const final = new Map(rows.map((r) => [r.id, r.parts]));

      await Promise.all(followers.map((f) => f.until((events) => events.at(-1)?.id === chat.revision, 20_000)));
      for (const f of followers) {
        f.cut();
        const ids = f.events.filter((e) => e.event === "message").map((e) => e.id!);
        expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
        expect(applied(f.events)).toEqual(final);
      }
    },
    60_000,
  );

  it("1,000 idle followers of 100 chats: one listening connection, a bounded pool, bounded memory", async () => {
    const users = await Promise.all(Array.from({ length: 100 }, () => userWithChat()));
    const pid = stack.functions.process.pid!;
    const before = rssKiB(pid);
    const followers: Follower[] = [];
    for (let i = 0; i < 10; i++) {
      followers.push(...await Promise.all(users.map((u) => follow(followUrl(u.chatId), { token: u.token }))));
    }
    await Promise.all(followers.map((f) => f.until((events) => events.some((e) => e.event === "chat"))));
    expect(followers.filter((f) => f.status !== 200)).toEqual([]);

    const connections = await stack.sql`
      select count(*) filter (where query ilike 'listen%')::int as listening, count(*)::int as total
        from pg_stat_activity
       where backend_type = 'client backend' and pid <> pg_backend_pid()
         and application_name = 'postgres.js' and usename <> 'postgres'`;
    expect(connections[0].listening).toBe(1);
    // The pool (DB_POOL_MAX, 4 by default), the listening connection, and room for a breaker probe.
    expect(connections[0].total).toBeLessThanOrEqual(6);
    const grownMiB = (rssKiB(pid) - before) / 1024;
    expect(grownMiB).toBeLessThan(150);

    // Still live: a change reaches every follower of its chat.
    await invoke(users[0].client, "append-message", {
      chat_id: users[0].chatId,
      message: uiMessage(uid("u"), "user", "ping"),
    });
    const mine = followers.filter((_, i) => i % 100 === 0);
    await Promise.all(mine.map((f) => f.until((events) => events.some((e) => e.event === "message"))));
    followers.forEach((f) => f.cut());
  }, 60_000);
});
