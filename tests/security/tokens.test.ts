// Token attacks against every operation: each is refused with 401 and writes nothing.
import { beforeAll, expect, it } from "vitest";
import { apiUrl, post, uid, useFunctionsDatabase, type UserWithChat, userWithChat } from "../support/functions.ts";
import { everythingOf } from "../support/snapshot.ts";
import { tokenAttacks } from "../support/tokens.ts";

const sql = useFunctionsDatabase();
let owner: UserWithChat;
beforeAll(async () => {
  owner = await userWithChat();
});

const bodies = () => ({
  "create-chat": { session: { id: uid("s"), title: "x" }, chat: { id: uid("c") } },
  "append-message": { chat_id: owner.chatId, message: { id: uid("m"), role: "user", parts: [] } },
  "mark-read": { chat_id: owner.chatId },
  "log-workflow-step": { run: { id: uid("run"), chat_id: owner.chatId, started_at: "2026-01-01T00:00:00Z" } },
  "push-context": {
    session_id: owner.sessionId,
    resources: [{ source: "AGENTS.md", kind: "instructions", body: "forged" }],
  },
  "pin-context": { chat_id: owner.chatId },
  "archive-chat": { chat_id: owner.chatId, archived: true },
  "edit-message": {
    chat_id: owner.chatId,
    message_id: "m-1",
    message: { id: "m-1", role: "user", parts: [{ type: "text", text: "forged" }] },
  },
  regenerate: { chat_id: owner.chatId },
  "respond-to-approval": { chat_id: owner.chatId, message_id: "a-1", approval_id: "x", approved: true },
  "delete-queued-message": { chat_id: owner.chatId, message_id: "q-1" },
  "promote-queued-message": { chat_id: owner.chatId, message_id: "q-1" },
});

it("every token attack on every operation gets 401 and writes nothing", async () => {
  const before = await everythingOf(sql, owner.accountId);
  const attacks = await tokenAttacks(owner.accountId);
  expect(attacks.length).toBeGreaterThanOrEqual(20);
  for (const { name, authorization } of attacks) {
    for (const [fn, body] of Object.entries(bodies())) {
      const headers = authorization ? { Authorization: authorization } : undefined;
      const response = await post(fn, { headers, body: JSON.stringify(body) });
      expect(response.status, `${name} on ${fn}`).toBe(401);
      expect(response.body).toMatchObject({ error: { code: "unauthorized" } });
    }
    const headers = new Headers(authorization ? { Authorization: authorization } : {});
    const read = await fetch(`${apiUrl}/functions/v1/get-context?chat_id=${owner.chatId}`, { headers });
    expect(read.status, `${name} on get-context`).toBe(401);
    await read.body?.cancel();
  }
  expect(await everythingOf(sql, owner.accountId)).toEqual(before);
});
