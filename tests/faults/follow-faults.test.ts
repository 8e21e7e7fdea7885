// A follower through faults: the function process killed mid-stream, then PostgreSQL stopped and
// started again, while a worker streams a reply and rewrites its message. The follower reconnects
// with Last-Event-ID each time and, across all its connections, receives every event once and in
// order, and rebuilds exactly what is stored.
import { afterAll, beforeAll, expect, it } from "vitest";
import { ChatView } from "../../client/follow-chat.ts";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { follow } from "../support/follow.ts";
import { serviceRoleKey, uid, userJwt } from "../support/functions.ts";

let stack: ThrowawayStack;
beforeAll(async () => {
  stack = await throwawayStack({ DB_CONNECT_TIMEOUT_S: "1" });
});
afterAll(() => stack?.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** POSTs until the API answers (the function process or the database may be away): the final answer. */
// deno-lint-ignore no-explicit-any -- the functions' JSON answers; the test reads the fields it needs
async function post(token: string, fn: string, body: unknown): Promise<{ status: number; body: any }> {
  for (;;) {
    try {
      const response = await fetch(`${stack.apiUrl}/functions/v1/${fn}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      const answer = { status: response.status, body: await response.json() };
      if (answer.status < 500) return answer;
    } catch {
      // connection refused or cut: the process is being restarted
    }
    await sleep(100);
  }
}

it(
  "a follower resumed with Last-Event-ID across a killed function process and a database restart gets every event once",
  async () => {
    const token = await userJwt(crypto.randomUUID());
    const chatId = uid("chat");
    expect((await post(token, "create-chat", { session: { title: "faults" }, chat: { id: chatId } })).status).toBe(201);
    const question = { id: uid("u"), role: "user", parts: [{ type: "text", text: "stream through faults" }] };
    expect((await post(token, "append-message", { chat_id: chatId, message: question })).status).toBe(201);
    const runner = "fault-runner";
    const { body: claimed } = await post(serviceRoleKey, "claim-chats", { runner_id: runner, chat_ids: [chatId] });
    const runId: string = claimed.claims[0].run.id;
    const replyId = `${runId}-reply`;

    // The worker: 120 batches of one delta, the message rewritten every 20, then the close and the finish.
    let writing = true;
    const writer = (async () => {
      const sent: unknown[] = [{ type: "start", messageId: replyId }, { type: "text-start", id: "t" }];
      let next = 0;
      let text = "";
      const push = async (chunks: unknown[]) => {
        sent.push(...chunks);
        while (next < sent.length) {
          const { status, body } = await post(serviceRoleKey, "append-chunks", {
            chat_id: chatId,
            runner_id: runner,
            message_id: replyId,
            from: next,
            chunks: sent.slice(next),
          });
          expect([200, 409]).toContain(status);
          next = status === 200 ? body.next : body.error.details.next;
        }
      };
      const store = (state: string) =>
        post(serviceRoleKey, "append-message", {
          chat_id: chatId,
          runner_id: runner,
          message: { id: replyId, role: "assistant", parts: [{ type: "text", text, state }] },
        });
      await push([]);
      for (let i = 0; i < 120; i++) {
        text += `${i} `;
        await push([{ type: "text-delta", id: "t", delta: `${i} ` }]);
        if (i % 20 === 19) expect((await store("streaming")).status).toBeLessThan(300);
        await sleep(25);
      }
      await push([{ type: "text-end", id: "t" }, { type: "finish" }]);
      await store("done");
      await post(serviceRoleKey, "log-workflow-step", {
        run: { id: runId, chat_id: chatId },
        finish: { status: "completed", finished_at: new Date().toISOString() },
      });
      writing = false;
    })();

    // The follower: from the start of the history, reconnecting after every cut.
    const view = new ChatView();
    const revisions: number[] = [];
    let cursor = "0";
    let connections = 0;
    const followUrl = `${stack.apiUrl}/functions/v1/follow-chat?chat_id=${chatId}`;
    const faults = (async () => {
      await sleep(800);
      stack.functions.process.kill("SIGKILL");
      await sleep(300);
      await stack.restartFunctions();
      await sleep(800);
      await stack.stopPostgres();
      await sleep(800);
      await stack.startPostgres();
    })();
    for (;;) {
      const follower = await follow(followUrl, { token, lastEventId: cursor }).catch(() => undefined);
      if (!follower || follower.status !== 200) {
        await sleep(200);
        continue;
      }
      connections++;
      await follower.until(
        (events) => !writing && events.some((e) => e.event === "chat" && e.data.status === "idle"),
        20_000,
      ).catch(() => {});
      follower.cut();
      await follower.closed;
      for (const event of follower.events) {
        // ChatView throws on a chunk seen twice or skipped.
        view.apply({ event: event.event, id: event.cursor, data: event.data });
        if (event.event === "message") revisions.push(event.data.revision);
      }
      cursor = view.cursor ?? cursor;
      if (!writing && view.chat?.status === "idle") break;
    }
    await Promise.all([writer, faults]);

    // The kill cuts the stream (the follower reconnects); the database outage it rides through, its
    // process's feed catching up once PostgreSQL answers again.
    expect(connections).toBeGreaterThanOrEqual(2);
    // Message events strictly increase in revision across every connection: none twice, none out of order.
    expect(revisions).toEqual([...new Set(revisions)].sort((a, b) => a - b));
    const stored = await stack.sql`select parts from chat_messages where chat_id = ${chatId} order by seq`;
    expect(await view.messages()).toEqual(stored.map((row) => row.parts));
  },
  90_000,
);
