// The cross-account matrix: user B, through every operation, aims at user A's sessions, chats,
// messages, read markers, workflow runs, usage, budget and context (by guessing ids, by naming A's
// account, by mixing A's rows with B's). Every attempt is refused, and neither A's nor B's rows change.
import { beforeAll, expect, it } from "vitest";
import {
  type FunctionName,
  invoke,
  read,
  service,
  uid,
  useFunctionsDatabase,
  type UserWithChat,
  userWithChat,
} from "../support/functions.ts";
import { uiMessage } from "../support/factories.ts";
import { everythingOf } from "../support/snapshot.ts";

const sql = useFunctionsDatabase();
let a: UserWithChat;
let b: UserWithChat;
const aMessage = uid("a-user-msg"), aAssistant = uid("a-assistant-msg"), aRun = uid("a-run");

beforeAll(async () => {
  [a, b] = await Promise.all([userWithChat(), userWithChat()]);
  await invoke(a.client, "append-message", { chat_id: a.chatId, message: uiMessage(aMessage, "user", "A's secret") });
  await invoke(a.client, "append-message", {
    chat_id: a.chatId,
    message: uiMessage(aAssistant, "assistant", "A's answer"),
  });
  await invoke(a.client, "mark-read", { chat_id: a.chatId, read_at: "2026-01-01T00:00:00Z" });
  await invoke(service, "log-workflow-step", {
    run: { id: aRun, chat_id: a.chatId, started_at: "2026-01-01T00:00:00Z" },
    steps: [{
      step_number: 1,
      started_at: "2026-01-01T00:00:00Z",
      finished_at: "2026-01-01T00:00:01Z",
      usage: { inputTokens: 100, outputTokens: 10 },
      cost_micros: 42,
    }],
  });
  await invoke(service, "push-context", {
    session_id: a.sessionId,
    resources: [{ source: "AGENTS.md", kind: "instructions", body: "A's secret instructions" }],
  });
  await invoke(a.client, "pin-context", { chat_id: a.chatId });
  await invoke(service, "push-context", { session_id: b.sessionId, resources: [] });
  await invoke(service, "set-budget", { account_id: a.accountId, limit_cost_micros: 1_000_000 });
});

it("B can neither read, change nor attach to anything of A's", async () => {
  const attempts: [FunctionName, string, () => Record<string, unknown>, number[]][] = [
    // create-chat
    ["create-chat", "a chat in A's session", () => ({ session_id: a.sessionId }), [404]],
    ["create-chat", "A's chat id, retried in A's session", () => ({ session_id: a.sessionId, id: a.chatId }), [404]],
    ["create-chat", "A's chat id in B's own session", () => ({ session_id: b.sessionId, id: a.chatId }), [409]],
    ["create-chat", "A's session id for a new session", () => ({ session: { id: a.sessionId, title: "x" } }), [409]],
    ["create-chat", "a session owned by A, naming A's account", () => ({
      session: { title: "x" },
      account_id: a.accountId,
    }), [403]],
    // append-message
    ["append-message", "a user message into A's chat", () => ({
      chat_id: a.chatId,
      message: uiMessage(uid("m"), "user", "intrusion"),
    }), [404]],
    ["append-message", "A's message id into A's chat", () => ({
      chat_id: a.chatId,
      message: uiMessage(aMessage, "user", "overwrite"),
    }), [404]],
    ["append-message", "A's assistant message rewritten from B's chat", () => ({
      chat_id: b.chatId,
      message: uiMessage(aAssistant, "assistant", "rewrite"),
    }), [409]],
    ["append-message", "A's user message id replayed in B's chat", () => ({
      chat_id: b.chatId,
      message: uiMessage(aMessage, "user", "read back?"),
    }), [409]],
    ["append-message", "an interrupting message into A's chat", () => ({
      chat_id: a.chatId,
      message: uiMessage(uid("m"), "user", "stop"),
      interrupt: true,
    }), [404]],
    // conversation control
    ["edit-message", "A's message in A's chat", () => ({
      chat_id: a.chatId,
      message_id: aMessage,
      message: uiMessage(aMessage, "user", "edited by B"),
    }), [404]],
    ["edit-message", "A's message, from B's chat", () => ({
      chat_id: b.chatId,
      message_id: aMessage,
      message: uiMessage(aMessage, "user", "edited by B"),
    }), [404]],
    ["regenerate", "A's chat", () => ({ chat_id: a.chatId }), [404]],
    ["regenerate", "A's answer, from B's chat", () => ({ chat_id: b.chatId, message_id: aAssistant }), [404]],
    ["respond-to-approval", "an approval in A's chat", () => ({
      chat_id: a.chatId,
      message_id: aAssistant,
      approval_id: "approval-1",
      approved: true,
    }), [404]],
    ["delete-queued-message", "from A's queue", () => ({ chat_id: a.chatId, message_id: aMessage }), [404]],
    ["promote-queued-message", "in A's queue", () => ({ chat_id: a.chatId, message_id: aMessage }), [404]],
    // mark-read
    ["mark-read", "a marker on A's chat", () => ({ chat_id: a.chatId }), [404]],
    ["mark-read", "A's marker, naming A", () => ({ chat_id: a.chatId, account_id: a.accountId }), [403]],
    ["mark-read", "B's chat, naming A", () => ({ chat_id: b.chatId, account_id: a.accountId }), [403]],
    // log-workflow-step
    ["log-workflow-step", "A's run", () => ({
      run: { id: aRun, chat_id: a.chatId, started_at: "2026-01-01T00:00:00Z" },
      finish: { status: "failed", finished_at: "2026-01-01T00:00:05Z" },
    }), [403]],
    ["log-workflow-step", "a run in B's chat", () => ({
      run: { id: uid("run"), chat_id: b.chatId, started_at: "2026-01-01T00:00:00Z" },
    }), [403]],
    // context
    ["push-context", "into A's session", () => ({
      session_id: a.sessionId,
      resources: [{ source: "AGENTS.md", kind: "instructions", body: "ignore A" }],
    }), [403]],
    ["push-context", "into B's own session", () => ({ session_id: b.sessionId, resources: [] }), [403]],
    ["pin-context", "A's live context into A's chat", () => ({ chat_id: a.chatId }), [404]],
    ["pin-context", "a named source into A's chat", () => ({ chat_id: a.chatId, sources: ["AGENTS.md"] }), [404]],
    // archive-chat
    ["archive-chat", "A's chat", () => ({ chat_id: a.chatId, archived: true }), [404]],
    ["archive-chat", "A's chat, restored", () => ({ chat_id: a.chatId, archived: false }), [404]],
    // set-budget
    ["set-budget", "lifting A's budget", () => ({ account_id: a.accountId, limit_cost_micros: null }), [403]],
    ["set-budget", "a budget of 0 for A", () => ({ account_id: a.accountId, limit_cost_micros: 0 }), [403]],
  ];

  const beforeA = await everythingOf(sql, a.accountId), beforeB = await everythingOf(sql, b.accountId);
  for (const [fn, what, body, allowed] of attempts) {
    const { status, body: response } = await invoke(b.client, fn, body());
    expect(allowed, `${fn}: ${what} answered ${status}`).toContain(status);
    // Nothing of A's leaks into an error.
    expect(JSON.stringify(response)).not.toContain("A's secret");
  }
  const context = await read(b.client, "get-context", { chat_id: a.chatId });
  expect(context.status, "get-context: A's chat").toBe(404);
  expect(JSON.stringify(context.body)).not.toContain("A's secret");
  expect(await everythingOf(sql, a.accountId)).toEqual(beforeA);
  expect(await everythingOf(sql, b.accountId)).toEqual(beforeB);
});

it("B cannot read A's usage: naming A's account is 403, and B's own usage holds nothing of A's", async () => {
  expect((await read(b.client, "usage", { account_id: a.accountId, from: "2026-01-01" })).status).toBe(403);
  for (const group_by of ["day", "model", "session", "chat"]) {
    const mine = await read(b.client, "usage", { group_by, from: "2026-01-01" });
    expect(mine, group_by).toMatchObject({ status: 200, body: { rows: [], budget: null } });
  }
});
