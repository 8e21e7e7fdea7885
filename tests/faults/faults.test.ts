// Faults: a stuck lock, PostgreSQL going away mid-traffic and coming back, and the function process
// killed mid-request. Clients get prompt, honest answers; nothing acknowledged is lost; nothing is
// half-written.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userJwt } from "../support/functions.ts";
import { type ThrowawayStack, throwawayStack } from "../../scripts/local-stack/throwaway.ts";

let stack: ThrowawayStack;
let token: string;
let chatIds: string[];

beforeAll(async () => {
  stack = await throwawayStack({ DB_LOCK_TIMEOUT: "500ms", DB_STATEMENT_TIMEOUT: "3s" });
  const accountId = crypto.randomUUID();
  token = await userJwt(accountId);
  const created = await call("create-chat", { session: { title: "faults" }, chat: { id: "fault-chat-0" } });
  expect(created.status).toBe(201);
  const sessionId = (created.body as { session: { id: string } }).session.id;
  chatIds = ["fault-chat-0"];
  for (let i = 1; i < 4; i++) {
    expect((await call("create-chat", { session_id: sessionId, id: `fault-chat-${i}` })).status).toBe(201);
    chatIds.push(`fault-chat-${i}`);
  }
});
afterAll(() => stack?.stop());

async function call(fn: string, body: unknown, timeoutMs = 10_000) {
  const started = Date.now();
  const response = await fetch(`${stack.apiUrl}/functions/v1/${fn}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: await response.json() as Record<string, unknown>,
    ms: Date.now() - started,
  };
}

const append = (chatId: string, id: string) =>
  call("append-message", { chat_id: chatId, message: { id, role: "user", parts: [{ type: "text", text: id }] } });

/** Per chat: seq runs 1..n with n = the chat's counter, and the title was set iff there are messages. */
async function chatsAreWhole() {
  const rows = await stack.sql`
    select c.id, c.last_message_seq::int as counter, c.title,
           coalesce(array_agg(m.seq::int order by m.seq) filter (where m.id is not null), '{}') as seqs,
           bool_and(m.parts ->> 'id' = m.id) as parts_match
      from chats c left join chat_messages m on m.chat_id = c.id
     group by c.id`;
  for (const row of rows) {
    expect(row.seqs, row.id).toEqual(Array.from({ length: row.counter }, (_, i) => i + 1));
    expect(row.title === "New chat", row.id).toBe(row.counter === 0);
    if (row.counter) expect(row.parts_match).toBe(true);
  }
}

describe("logs", () => {
  it("neither the functions nor PostgreSQL log message contents or tokens, even for refused writes", async () => {
    const secret = `top-secret-${crypto.randomUUID()}`;
    const message = { id: "log-probe", role: "user", parts: [{ type: "text", text: secret }] };
    expect((await call("append-message", { chat_id: chatIds[0], message })).status).toBe(201);
    // The same id as an assistant message: refused inside the SQL function (PT409).
    const refused = await call("append-message", { chat_id: chatIds[0], message: { ...message, role: "assistant" } });
    expect(refused.status).toBe(409);
    // A chat the caller cannot see: refused by PostgreSQL (PT404).
    expect((await call("append-message", { chat_id: "not-mine", message: { ...message, id: "x" } })).status).toBe(404);
    await new Promise((r) => setTimeout(r, 200));
    const all = [...stack.logs, ...stack.postgresLog].join("\n");
    // PostgreSQL did log the refusals (so the checks below look at real error lines).
    expect(stack.postgresLog.join("")).toMatch(/ERROR: .*already used/);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(token.split(".")[1]);
  });
});

describe("a stuck lock", () => {
  it("turns into a prompt 503 with Retry-After instead of a hung request, then clears", async () => {
    const locker = await stack.sql.reserve();
    await locker`begin`;
    await locker`select 1 from chats where id = ${chatIds[0]} for update`;
    const stuck = await append(chatIds[0], "lock-1");
    await locker`rollback`;
    locker.release();
    expect(stuck.status).toBe(503);
    expect(stuck.retryAfter).toBe("1");
    expect(stuck.ms).toBeLessThan(3000);
    expect((await append(chatIds[0], "lock-1")).status).toBe(201);
  });
});

describe("PostgreSQL stopped while requests are in flight", () => {
  it("answers 503 + Retry-After while it is down, serves again once it is back, and loses no acknowledged write", async () => {
    const acknowledged: string[] = [];
    const outcomes: { status: number; retryAfter: string | null; ms: number }[] = [];
    let phase: "up" | "down" | "back" = "up";
    let stop = false;
    let n = 0;
    const sawCreatedAfterRestart = { value: false };
    const workers = Array.from({ length: 6 }, async (_, w) => {
      while (!stop) {
        const id = `restart-${w}-${n++}`;
        const during = phase;
        const outcome = await append(chatIds[w % chatIds.length], id);
        outcomes.push(outcome);
        if (outcome.status === 201) {
          acknowledged.push(id);
          if (during === "back") sawCreatedAfterRestart.value = true;
        }
        if (outcome.status === 503) await new Promise((r) => setTimeout(r, 20));
      }
    });

    await new Promise((r) => setTimeout(r, 300));
    phase = "down";
    await stack.stopPostgres();
    await new Promise((r) => setTimeout(r, 700));
    await stack.startPostgres();
    phase = "back";
    const deadline = Date.now() + 10_000;
    while (!sawCreatedAfterRestart.value && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(workers);

    const statuses = new Set(outcomes.map((o) => o.status));
    expect([...statuses].sort()).toEqual([201, 503]);
    expect(outcomes.filter((o) => o.status === 503).every((o) => o.retryAfter === "1")).toBe(true);
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(5000);
    expect(sawCreatedAfterRestart.value).toBe(true);

    const stored = await stack.sql`select id from chat_messages where id in ${stack.sql(acknowledged)}`;
    expect(stored.length).toBe(acknowledged.length);
    await chatsAreWhole();
  });
});

describe("the function process killed mid-request (SIGKILL)", () => {
  it("leaves no partial write, and a new process serves at once", async () => {
    // Writers append back to back until the process dies under them.
    let n = 0;
    const results: { status: number }[] = [];
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (;;) {
        const outcome = await append(chatIds[w % chatIds.length], `kill-${n++}`).catch(() => ({ status: 0 }));
        results.push(outcome);
        if (outcome.status === 0) return;
      }
    });
    await new Promise((r) => setTimeout(r, 150));
    stack.functions.process.kill("SIGKILL");
    await Promise.all(writers);
    expect(results.some((r) => r.status === 0), "the kill cut some requests off").toBe(true);
    expect(results.some((r) => r.status === 201), "some requests completed before the kill").toBe(true);

    // The server notices the dropped connections and rolls their transactions back.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const [{ n }] = await stack.sql`
        select count(*)::int as n from pg_stat_activity where state like 'idle in transaction%' or
          (state = 'active' and query like '%append_message%' and pid <> pg_backend_pid())`;
      if (n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await chatsAreWhole();
    const acknowledged = results.filter((r) => r.status === 201).length;
    const [{ stored }] = await stack.sql`select count(*)::int as stored from chat_messages where id like 'kill-%'`;
    expect(stored).toBeGreaterThanOrEqual(acknowledged);

    await stack.restartFunctions();
    expect((await append(chatIds[1], "after-kill")).status).toBe(201);
  });
});
