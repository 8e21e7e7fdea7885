// Requests queued for a pooled connection are not evidence of a dead database. Here the one
// connection is busy with writes that each wait out the lock timeout on a locked chat, so the last
// queued write waits far longer than the watchdog's deadline before it even reaches PostgreSQL: it
// must get its own answer (503 busy), and the circuit breaker must stay closed.
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { uiMessage } from "../support/factories.ts";
import { timedPost, userJwt } from "../support/functions.ts";

// Deadline = connect timeout + statement timeout + 1 s = 3 s; six writes queued on one connection
// take about 6 × 0.9 s.
let stack: ThrowawayStack;
let token: string;

beforeAll(async () => {
  stack = await throwawayStack({
    DB_POOL_MAX: "1",
    DB_CONNECT_TIMEOUT_S: "1",
    DB_STATEMENT_TIMEOUT: "1s",
    DB_LOCK_TIMEOUT: "900ms",
  });
  token = await userJwt(crypto.randomUUID());
  expect(
    (await call("create-chat", {
      session: { title: "queue" },
      chat: { id: "queue-chat" },
    })).status,
  ).toBe(201);
});
afterAll(() => stack?.stop());

const call = (fn: string, body: unknown) => timedPost(stack.apiUrl, token, fn, body);

const append = (id: string) =>
  call("append-message", {
    chat_id: "queue-chat",
    message: uiMessage(id, "user", id),
  });

it("a write that waited in the pool past the deadline gets its own answer, and the breaker stays closed", async () => {
  const locker = await stack.sql.reserve();
  await locker`begin`;
  await locker`select 1 from chats where id = 'queue-chat' for update`;
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) => append(`queued-${i}`)),
  );
  const elapsed = Date.now() - started;
  await locker`rollback`;
  locker.release();

  expect(elapsed).toBeGreaterThan(3000); // the queue outlasted the deadline
  expect(results.map((r) => [r.status, r.body.error?.code])).toEqual(
    Array(6).fill([503, "busy"]),
  );
  const next = await append("after-queue");
  expect(next.status).toBe(201);
  expect(next.ms).toBeLessThan(1000);
  expect(stack.logs.join("\n")).not.toContain("database_unavailable");
});
