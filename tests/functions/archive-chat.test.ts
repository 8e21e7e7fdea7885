// archive-chat through the real Deno server, called with supabase-js.
import { describe, expect, it } from "vitest";
import { invoke, newUser, read, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();
const archivedAt = async (chatId: string) =>
  (await sql`select archived_at from chats where id = ${chatId}`)[0].archived_at as Date | null;

describe("archive-chat", () => {
  it("archives the owner's chat and restores it, returning the chat each time", async () => {
    const user = await userWithChat();
    const archived = await invoke(user.client, "archive-chat", {
      chat_id: user.chatId,
      archived: true,
    });
    expect(archived.status).toBe(200);
    expect(archived.body.chat).toMatchObject({ id: user.chatId, archived_at: expect.any(String) });
    expect((await archivedAt(user.chatId))?.toISOString()).toBe(
      new Date(archived.body.chat.archived_at!).toISOString(),
    );

    const again = await invoke(user.client, "archive-chat", {
      chat_id: user.chatId,
      archived: true,
    });
    expect(again.body.chat.archived_at).toBe(archived.body.chat.archived_at);

    const restored = await invoke(user.client, "archive-chat", {
      chat_id: user.chatId,
      archived: false,
    });
    expect(restored.body.chat.archived_at).toBeNull();
    expect(await archivedAt(user.chatId)).toBeNull();
  });

  it("takes the chat out of list-chats, unless include_archived=true", async () => {
    const user = await userWithChat();
    const other = uid("chat");
    await invoke(user.client, "create-chat", { session_id: user.sessionId, id: other });
    await invoke(user.client, "archive-chat", { chat_id: user.chatId, archived: true });
    const listed = async (query: Record<string, string>) =>
      (await read(user.client, "list-chats", query)).body.chats.map((c) => c.id).sort();
    expect(await listed({})).toEqual([other]);
    expect(await listed({ include_archived: "true" })).toEqual([user.chatId, other].sort());
    expect(await listed({ include_archived: "false" })).toEqual([other]);
    expect((await read(user.client, "list-chats", { include_archived: "maybe" })).status).toBe(400);
  });

  it("answers 404 to another account and leaves the chat alone", async () => {
    const owner = await userWithChat();
    const intruder = await newUser();
    const { status } = await invoke(intruder.client, "archive-chat", { chat_id: owner.chatId, archived: true });
    expect(status).toBe(404);
    expect(await archivedAt(owner.chatId)).toBeNull();
  });

  it("needs archived as a boolean", async () => {
    const user = await userWithChat();
    for (const body of [{ chat_id: user.chatId }, { chat_id: user.chatId, archived: "yes" }]) {
      expect((await invoke(user.client, "archive-chat", body)).status).toBe(400);
    }
    expect(await archivedAt(user.chatId)).toBeNull();
  });
});
