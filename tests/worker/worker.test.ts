// The example worker (npm run worker) end to end: real worker processes (supabase-js + the AI SDK's
// mock model) against the real functions, users talking through supabase-js. Every turn runs once,
// none is lost, and a worker killed mid-turn is recovered after STALE_AFTER.
import { uiMessage } from "../support/factories.ts";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { startWorker, until } from "../support/worker.ts";
import { clientWith, invoke, uid, userJwt } from "../support/functions.ts";
import type { Sql } from "../support/db.ts";

// A stack of its own: workers claim every pending chat they can see, so they must not share a
// database with other tests. STALE_AFTER is short so recovery fits in a test.
let stack: ThrowawayStack;
beforeAll(async () => {
  stack = await throwawayStack({ STALE_AFTER: "2s" });
});
const workers = new Set<ChildProcess>();
/** A worker this file kills when it ends. */
function worker(on: { apiUrl: string; databaseUrl: string }, env: Record<string, string>) {
  const started = startWorker(on, { MOCK_CHUNK_DELAY_MS: "5", ...env });
  workers.add(started);
  return started;
}
/** Polls the database every 100 ms. */
const waitFor = <T>(read: () => Promise<T>, done: (value: T) => boolean) => until(read, done, { everyMs: 100 });
afterAll(async () => {
  workers.forEach((worker) => worker.kill("SIGKILL"));
  await stack?.stop();
});

/** A user with a chat on the API at `url`. */
async function userWithChatAt(url: string) {
  const token = await userJwt(crypto.randomUUID());
  const client = clientWith(token, url);
  const chatId = uid("chat");
  const { status } = await invoke(client, "create-chat", { session: { title: "worker test" }, chat: { id: chatId } });
  expect(status).toBe(201);
  return { client, chatId };
}

const chatState = (sql: Sql, chatId: string) =>
  sql`select c.status, (select count(*)::int from chat_messages m where m.chat_id = c.id and m.role = 'assistant') as answers
        from chats c where c.id = ${chatId}`.then((rows) => rows[0]);

describe("the example worker", () => {
  it("4 workers answer 20 chats x 3 user messages: each turn once, in order, none lost", async () => {
    const sql = stack.sql;
    const workerIds = ["w0", "w1", "w2", "w3"];
    for (const id of workerIds) {
      worker(stack, { RUNNER_ID: id });
    }
    const users = await Promise.all(Array.from({ length: 20 }, () => userWithChatAt(stack.apiUrl)));

    await Promise.all(users.map(async ({ client, chatId }) => {
      for (let turn = 1; turn <= 3; turn++) {
        const sent = await invoke(client, "append-message", {
          chat_id: chatId,
          message: uiMessage(`${chatId}-u${turn}`, "user", `question ${turn}`),
        });
        expect(sent.status).toBe(201);
        await waitFor(() => chatState(sql, chatId), (s) => s.status === "idle" && s.answers === turn);
      }
    }));

    for (const { chatId } of users) {
      const messages = await sql`select id, role, parts from chat_messages where chat_id = ${chatId} order by seq`;
      expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user", "assistant"]);
      const runs = await sql`select id, status from workflow_runs where chat_id = ${chatId} order by started_at`;
      expect(runs.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
      // Each assistant message is its run's one reply, answering the question before it.
      expect(messages.filter((m) => m.role === "assistant").map((m) => m.id)).toEqual(runs.map((r) => `${r.id}-reply`));
      expect(JSON.stringify(messages[5].parts)).toContain("question 3");
      const steps = await sql`select count(*)::int as n from workflow_run_steps where workflow_run_id = any(${
        runs.map((r) => r.id)
      })`;
      expect(steps[0].n).toBe(6);
    }
    workers.forEach((worker) => worker.kill("SIGKILL"));
  }, 90_000);

  it(
    "a worker killed mid-turn: its chat is recovered after STALE_AFTER and the turn completes on another worker",
    async () => {
      const stack = await throwawayStack({ STALE_AFTER: "2s" });
      try {
        const { client, chatId } = await userWithChatAt(stack.apiUrl);
        const doomed = worker(stack, { MOCK_CHUNK_DELAY_MS: "400", RUNNER_ID: "doomed" });
        await invoke(client, "append-message", {
          chat_id: chatId,
          message: uiMessage(uid("u"), "user", "do the thing"),
        });
        await waitFor(
          () => stack.sql`select runner_id from chats where id = ${chatId}`.then((rows) => rows[0].runner_id),
          (runner) => runner === "doomed",
        );
        doomed.kill("SIGKILL");
        worker(stack, { MOCK_CHUNK_DELAY_MS: "5", RUNNER_ID: "rescuer" });

        await waitFor(
          () => stack.sql`select status from chats where id = ${chatId}`.then((rows) => rows[0].status),
          (status) => status === "idle",
        );
        const runs = await stack
          .sql`select id, status from workflow_runs where chat_id = ${chatId} order by started_at`;
        expect(runs.map((r) => r.status)).toEqual(["failed", "completed"]);
        // The last word is the rescuing run's reply (the killed run may have left a partial one before it).
        const [last] = await stack
          .sql`select id from chat_messages where chat_id = ${chatId} order by seq desc limit 1`;
        expect(last.id).toBe(`${runs[1].id}-reply`);
        const [chat] = await stack.sql`select attempts, last_error from chats where id = ${chatId}`;
        expect(chat).toEqual({ attempts: 0, last_error: null });
      } finally {
        await stack.stop();
      }
    },
    60_000,
  );
});
