// The function process stops running for longer than the database deadline (SIGSTOP, as a long
// synchronous task or a starved VM would stop it) while its writes are in flight. The database
// answered them all meanwhile, so when the process runs again every client gets its 201: no 503,
// and the circuit breaker stays closed.
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";
import { uiMessage } from "../support/factories.ts";
import { timedPost, userJwt } from "../support/functions.ts";

// Deadline = connect timeout + statement timeout + 1 s = 3 s.
const deadlineMs = 3000;
let stack: ThrowawayStack;
let token: string;

beforeAll(async () => {
  stack = await throwawayStack({
    DB_POOL_MAX: "8", // the counts below: 8 writes fill the pool, 4 more wait in it
    DB_CONNECT_TIMEOUT_S: "1",
    DB_STATEMENT_TIMEOUT: "1s",
    DB_LOCK_TIMEOUT: "900ms",
  });
  token = await userJwt(crypto.randomUUID());
  expect((await call("create-chat", { session: { title: "stall" }, chat: { id: "stall-chat" } })).status).toBe(201);
});
afterAll(() => stack?.stop());

const call = (fn: string, body: unknown) => timedPost(stack.apiUrl, token, fn, body);

const append = (id: string) => call("append-message", { chat_id: "stall-chat", message: uiMessage(id, "user", id) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("writes answered by the database while the function process was stopped are acknowledged, not 503", async () => {
  // Hold the chat's row lock so the writes are certainly in flight (waiting in PostgreSQL) when the
  // process stops: 8 fill the pool, 4 more wait in it.
  const locker = await stack.sql.reserve();
  await locker`begin`;
  await locker`select 1 from chats where id = 'stall-chat' for update`;
  const ids = Array.from({ length: 12 }, (_, i) => `stalled-${i}`);
  const writes = ids.map((id) => append(id));
  for (let waiting = 0; waiting < 8; await sleep(20)) {
    [{ waiting }] = await stack.sql`
      select count(*)::int as waiting from pg_stat_activity
       where wait_event_type = 'Lock' and query like '%append_message%'`;
  }

  const pid = stack.functions.process.pid!;
  process.kill(pid, "SIGSTOP");
  try {
    await locker`commit`;
    locker.release();
    // PostgreSQL commits the first writes while the process is stopped.
    for (let stored = 0; stored < 8; await sleep(20)) {
      [{ stored }] = await stack.sql`select count(*)::int as stored from chat_messages where chat_id = 'stall-chat'`;
    }
    await sleep(deadlineMs + 1000);
  } finally {
    process.kill(pid, "SIGCONT");
  }

  const results = await Promise.all(writes);
  expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
  const stored = await stack.sql`select id from chat_messages where chat_id = 'stall-chat' order by seq`;
  expect(stored.map((row) => row.id).sort()).toEqual([...ids].sort());

  // The breaker stayed closed: the next request is served at once, not refused while a probe runs.
  const next = await append("after-stall");
  expect(next.status).toBe(201);
  expect(next.ms).toBeLessThan(1000);
  expect(stack.logs.join("\n")).not.toContain("database_unavailable");
});
