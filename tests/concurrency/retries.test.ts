// The same request sent many times at once, as retrying clients and workflow replays do, lands
// exactly once.
import { expect, it } from "vitest";
import { invoke, newUser, service, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";
import { uiMessage } from "../support/factories.ts";

const sql = useFunctionsDatabase();
const times = 12;
const all = <T>(make: () => Promise<T>) => Promise.all(Array.from({ length: times }, make));
const statuses = (results: { status: number }[]) => results.map((r) => r.status).sort();
const oneCreated = [...Array(times - 1).fill(200), 201];

it("a new session and chat, created concurrently, exist once", async () => {
  const user = await newUser();
  const body = { session: { id: uid("s"), title: "once" }, chat: { id: uid("c") } };
  expect(statuses(await all(() => invoke(user.client, "create-chat", body)))).toEqual(oneCreated);
  const [row] = await sql`
    select (select count(*) from sessions where account_id = ${user.accountId})::int as sessions,
           (select count(*) from chats where id = ${body.chat.id})::int as chats`;
  expect(row).toEqual({ sessions: 1, chats: 1 });
});

it("a chat in an existing session, created concurrently, exists once", async () => {
  const user = await userWithChat();
  const body = { session_id: user.sessionId, id: uid("c") };
  expect(statuses(await all(() => invoke(user.client, "create-chat", body)))).toEqual(oneCreated);
  expect((await sql`select count(*)::int as n from chats where session_id = ${user.sessionId}`)[0].n).toBe(2);
});

it("a user message appended concurrently is stored once, with one seq", async () => {
  const user = await userWithChat();
  const body = { chat_id: user.chatId, message: uiMessage(uid("m"), "user", "once") };
  const results = await all(() => invoke(user.client, "append-message", body));
  expect(statuses(results)).toEqual(oneCreated);
  expect(new Set(results.map((r) => (r.body.message as { seq: number }).seq))).toEqual(new Set([1]));
  expect((await sql`select count(*)::int as n from chat_messages where chat_id = ${user.chatId}`)[0].n).toBe(1);
});

it("a read marker set concurrently is one row at that time", async () => {
  const user = await userWithChat();
  const body = { chat_id: user.chatId, read_at: "2026-03-01T12:00:00Z" };
  expect(statuses(await all(() => invoke(user.client, "mark-read", body)))).toEqual(Array(times).fill(200));
  const rows = await sql`select last_read_at from chat_reads where chat_id = ${user.chatId}`;
  expect(rows.map((r) => r.last_read_at.toISOString())).toEqual(["2026-03-01T12:00:00.000Z"]);
});

it("a whole run logged concurrently is one run with each step once", async () => {
  const { chatId } = await userWithChat();
  const body = {
    run: { id: uid("run"), chat_id: chatId, started_at: "2026-01-01T00:00:00Z" },
    steps: [1, 2, 3].map((n) => ({
      step_number: n,
      started_at: `2026-01-01T00:00:0${n}Z`,
      finished_at: `2026-01-01T00:00:0${n + 1}Z`,
    })),
    finish: { status: "completed", finished_at: "2026-01-01T00:00:05Z" },
  };
  const results = await all(() => invoke(service, "log-workflow-step", body));
  expect(statuses(results)).toEqual(oneCreated);
  // Each step was recorded by exactly one of the calls.
  const recorded = results.flatMap((r) => r.body.steps.filter((s) => s.recorded));
  expect(recorded.length).toBe(3);
  const [row] = await sql`
    select (select count(*) from workflow_run_steps where workflow_run_id = ${body.run.id})::int as steps,
           (select status from workflow_runs where id = ${body.run.id}) as status`;
  expect(row).toEqual({ steps: 3, status: "completed" });
});
