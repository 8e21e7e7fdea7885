// Run control over HTTP, as a worker (service role) and a user (supabase-js) drive it: claim,
// heartbeat, stop, queued messages, finish, and the illegal moves. The SQL-level tests
// (tests/db/run-control.test.ts) cover stale recovery in depth; here it runs through claim-chats.
import { uiMessage } from "../support/factories.ts";
import { describe, expect, it } from "vitest";
import { claimChatsResponse, heartbeatResponse, stopChatResponse } from "../../functions/_shared/schemas/mod.ts";
import { invoke, newUser, service, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();
type User = Awaited<ReturnType<typeof userWithChat>>;

const say = (user: User, id = uid("u")) =>
  invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(id, "user", "please") });
async function claim(runner: string, chatIds: string[]) {
  const { status, body } = await invoke(service, "claim-chats", { runner_id: runner, limit: 20, chat_ids: chatIds });
  expect(status).toBe(200);
  return claimChatsResponse.parse(body).claims;
}
const finish = (runId: string, chatId: string, status: string) =>
  invoke(service, "log-workflow-step", {
    run: { id: runId, chat_id: chatId },
    finish: { status, finished_at: new Date().toISOString() },
  });
const chatState = async (chatId: string) =>
  (await sql`select status, runner_id, active_stream_id from chats where id = ${chatId}`)[0];

describe("a turn over HTTP", () => {
  it("user message -> pending -> claimed -> heartbeat -> finished -> idle", async () => {
    const user = await userWithChat();
    expect((await say(user)).status).toBe(201);
    expect((await chatState(user.chatId)).status).toBe("pending");

    const [claimed] = await claim("runner-a", [user.chatId]);
    expect(claimed.chat).toMatchObject({ id: user.chatId, status: "running", active_stream_id: claimed.run.id });
    expect(await chatState(user.chatId)).toEqual({
      status: "running",
      runner_id: "runner-a",
      active_stream_id: claimed.run.id,
    });
    expect(await claim("runner-b", [user.chatId])).toEqual([]);

    const beat = await invoke(service, "heartbeat", { runner_id: "runner-a", chat_ids: [user.chatId] });
    expect(heartbeatResponse.parse(beat.body)).toEqual({ held: [user.chatId], stop: [] });
    const other = await invoke(service, "heartbeat", { runner_id: "runner-b", chat_ids: [user.chatId] });
    expect(heartbeatResponse.parse(other.body)).toEqual({ held: [], stop: [] });

    expect((await finish(claimed.run.id, user.chatId, "completed")).status).toBe(200);
    expect(await chatState(user.chatId)).toEqual({ status: "idle", runner_id: null, active_stream_id: null });
  });

  it("a message while running is queued (202), retried idempotently, promoted when the turn ends", async () => {
    const user = await userWithChat();
    await say(user, `${user.chatId}-first`);
    const [claimed] = await claim("runner-q", [user.chatId]);
    const queued = await say(user, `${user.chatId}-second`);
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ queued: true, position: 1, created: true });
    const retried = await say(user, `${user.chatId}-second`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ queued: true, position: 1, created: false });

    await finish(claimed.run.id, user.chatId, "completed");
    const history = await sql`select id from chat_messages where chat_id = ${user.chatId} order by seq`;
    expect(history.map((r) => r.id)).toEqual([`${user.chatId}-first`, `${user.chatId}-second`]);
    expect((await chatState(user.chatId)).status).toBe("pending");
  });

  it("429 queue_full past 20 queued messages, with nothing written", async () => {
    const user = await userWithChat();
    await say(user);
    await claim("runner-full", [user.chatId]);
    for (let i = 0; i < 20; i++) expect((await say(user)).status).toBe(202);
    const full = await say(user);
    expect(full.status).toBe(429);
    expect(full.body).toMatchObject({ error: { code: "queue_full" } });
    expect((await sql`select count(*)::int as n from chat_queued_messages where chat_id = ${user.chatId}`)[0].n)
      .toBe(20);
  });

  it("stop: the owner's running chat becomes stopping and the worker hears it; another account gets 404", async () => {
    const user = await userWithChat();
    await say(user);
    const [claimed] = await claim("runner-s", [user.chatId]);
    const stranger = await newUser();
    expect((await invoke(stranger.client, "stop-chat", { chat_id: user.chatId })).status).toBe(404);
    const stopped = await invoke(user.client, "stop-chat", { chat_id: user.chatId });
    expect(stopped.status).toBe(200);
    expect(stopChatResponse.parse(stopped.body).chat.status).toBe("stopping");
    const beat = await invoke(service, "heartbeat", { runner_id: "runner-s", chat_ids: [user.chatId] });
    expect(beat.body).toEqual({ held: [user.chatId], stop: [user.chatId] });
    await finish(claimed.run.id, user.chatId, "aborted");
    expect((await chatState(user.chatId)).status).toBe("idle");
  });

  it("a stale worker's chat is recovered by the next claim; its late finish changes nothing", async () => {
    const user = await userWithChat();
    await say(user);
    const [first] = await claim("runner-dead", [user.chatId]);
    await sql`update chats set heartbeat_at = now() - interval '1 hour' where id = ${user.chatId}`;
    const [second] = await claim("runner-alive", [user.chatId]);
    expect(second.run.id).not.toBe(first.run.id);
    expect((await sql`select status from workflow_runs where id = ${first.run.id}`)[0].status).toBe("failed");

    expect((await finish(first.run.id, user.chatId, "failed")).status).toBe(200);
    expect((await finish(first.run.id, user.chatId, "completed")).status).toBe(409);
    expect(await chatState(user.chatId)).toEqual({
      status: "running",
      runner_id: "runner-alive",
      active_stream_id: second.run.id,
    });
  });
});

describe("who may do what, and bad input", () => {
  it("users may not claim or heartbeat (403)", async () => {
    const user = await newUser();
    expect((await invoke(user.client, "claim-chats", { runner_id: "x" })).status).toBe(403);
    expect((await invoke(user.client, "heartbeat", { runner_id: "x", chat_ids: ["c"] })).status).toBe(403);
  });

  it("400 naming the field for a bad limit, an empty chat_ids, and a run without started_at that does not exist", async () => {
    const limit = await invoke(service, "claim-chats", { runner_id: "x", limit: 21 });
    expect(limit.status).toBe(400);
    expect(JSON.stringify(limit.body)).toContain("limit");
    const empty = await invoke(service, "heartbeat", { runner_id: "x", chat_ids: [] });
    expect(empty.status).toBe(400);
    expect(JSON.stringify(empty.body)).toContain("chat_ids");
    const user = await userWithChat();
    const unknown = await invoke(service, "log-workflow-step", { run: { id: uid("run"), chat_id: user.chatId } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: { code: "unknown_run" } });
  });
});
