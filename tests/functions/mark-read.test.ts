// mark-read through the real Deno server, called with supabase-js.
import { describe, expect, it } from "vitest";
import { invoke, newUser, service, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();

describe("mark-read", () => {
  it("creates the caller's marker at now by default", async () => {
    const user = await userWithChat();
    const before = Date.now();
    const { status, body } = await invoke(user.client, "mark-read", { chat_id: user.chatId });
    expect(status).toBe(200);
    expect(body).toMatchObject({ chat_id: user.chatId, account_id: user.accountId });
    expect(Date.parse(body.last_read_at)).toBeGreaterThanOrEqual(before - 1000);
    const [row] = await sql`select last_read_at from chat_reads where chat_id = ${user.chatId}`;
    expect(row.last_read_at.toISOString()).toBe(new Date(body.last_read_at).toISOString());
  });

  it("only moves forward: an older read_at is a no-op that returns the stored marker", async () => {
    const user = await userWithChat();
    await invoke(user.client, "mark-read", { chat_id: user.chatId, read_at: "2026-01-02T00:00:00Z" });
    const older = await invoke(user.client, "mark-read", {
      chat_id: user.chatId,
      read_at: "2026-01-01T00:00:00Z",
    });
    expect(older.status).toBe(200);
    expect(Date.parse(older.body.last_read_at)).toBe(Date.parse("2026-01-02T00:00:00Z"));
    const newer = await invoke(user.client, "mark-read", {
      chat_id: user.chatId,
      read_at: "2026-01-03T00:00:00Z",
    });
    expect(Date.parse(newer.body.last_read_at)).toBe(Date.parse("2026-01-03T00:00:00Z"));
  });

  it("never sets a marker in the future", async () => {
    const user = await userWithChat();
    const { body } = await invoke(user.client, "mark-read", {
      chat_id: user.chatId,
      read_at: "2999-01-01T00:00:00Z",
    });
    expect(Date.parse(body.last_read_at)).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("racing calls end at the latest time", async () => {
    const user = await userWithChat();
    const times = Array.from({ length: 20 }, (_, i) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString());
    const shuffled = [...times].sort(() => Math.random() - 0.5);
    const results = await Promise.all(
      shuffled.map((read_at) => invoke(user.client, "mark-read", { chat_id: user.chatId, read_at })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const [row] = await sql`select last_read_at from chat_reads where chat_id = ${user.chatId}`;
    expect(row.last_read_at.toISOString()).toBe(times.at(-1));
  });

  it("another account's chat is not found (404), and no marker is written", async () => {
    const owner = await userWithChat();
    const intruder = await newUser();
    const { status } = await invoke(intruder.client, "mark-read", { chat_id: owner.chatId });
    expect(status).toBe(404);
    expect((await sql`select 1 from chat_reads where chat_id = ${owner.chatId}`).length).toBe(0);
  });

  it("the service role marks for the account it names, which must own the chat", async () => {
    const owner = await userWithChat();
    const { status, body } = await invoke(service, "mark-read", {
      chat_id: owner.chatId,
      account_id: owner.accountId,
    });
    expect(status).toBe(200);
    expect(body.account_id).toBe(owner.accountId);
    const stranger = await invoke(service, "mark-read", { chat_id: owner.chatId, account_id: crypto.randomUUID() });
    expect(stranger.status).toBe(404);
    const unnamed = await invoke(service, "mark-read", { chat_id: owner.chatId });
    expect(unnamed.status).toBe(400);
  });
});
