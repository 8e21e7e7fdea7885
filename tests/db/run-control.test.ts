// Run control at the SQL level: every transition of a chat's status, the legal ones and the illegal
// ones, called the way the edge functions (and supabase.rpc on hosted Supabase) call them.
import { describe, expect, it } from "vitest";
import { failure, rpcOn, useTestDatabase } from "../support/db.ts";
import { id, makeAccount, makeSession, ownedChat, uiMessage } from "../support/factories.ts";
import { connect } from "../../scripts/local-stack/database.ts";

const { sql, url } = await useTestDatabase();
const { asService, asOwner } = rpcOn(sql);

// deno-lint-ignore no-explicit-any -- jsonb results; the assertions check their shape
type Json = Record<string, any>;

const state = async (chatId: string) =>
  (await sql`select status, runner_id, active_stream_id, heartbeat_at, attempts, last_error, revision::int,
                    updated_at from chats where id = ${chatId}`)[0];
const say = (accountId: string, chatId: string, messageId = id("u")) =>
  asOwner(accountId, "public.append_message($1, $2::jsonb)", chatId, uiMessage(messageId, "user"));
const claim = (runner: string, chatId?: string, stale = "90 seconds") =>
  asService("public.claim_chats($1, 20, $2, $3::interval)", runner, chatId ? [chatId] : null, stale);
const finish = (runId: string, chatId: string, status: string) =>
  asService("public.log_workflow_step($1, $2, finish_status => $3, finished_at => now())", runId, chatId, status);
const runOf = async (chatId: string) => (await state(chatId)).active_stream_id as string;

describe("a user message", () => {
  it("makes an idle chat pending, resets attempts and clears the last error, and wakes workers on chat_work", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    const listener = connect(url);
    const woken: string[] = [];
    await listener.listen("chat_work", (payload) => void woken.push(payload));
    await sql`update chats set status = 'error', last_error = 'turn failed', attempts = 3 where id = ${chatId}`;
    await say(accountId, chatId);
    expect(await state(chatId)).toMatchObject({ status: "pending", attempts: 0, last_error: null });
    await expect.poll(() => woken).toContain(chatId);
    await listener.end();
  });

  it("to a pending chat keeps its place in the claim order; an assistant message never changes the status", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    const [before] = await sql`select status_changed_at from chats where id = ${chatId}`;
    await say(accountId, chatId);
    await asOwner(accountId, "public.append_message($1, $2::jsonb)", chatId, uiMessage(id("a"), "assistant"));
    const [after] = await sql`select status, status_changed_at from chats where id = ${chatId}`;
    expect(after).toEqual({ status: "pending", status_changed_at: before.status_changed_at });
  });

  it("to a running chat is queued in order, retried idempotently, and refused past 20 with queue_full", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    await claim("w", chatId);
    const first = await say(accountId, chatId, "q-1");
    expect(first).toMatchObject({ queued: true, position: 1, created: true });
    expect(await say(accountId, chatId, "q-1")).toMatchObject({ queued: true, position: 1, created: false });
    for (let i = 2; i <= 20; i++) expect((await say(accountId, chatId, `q-${i}`)).position).toBe(i);
    const full = await failure(say(accountId, chatId, "q-21"));
    expect(full).toMatchObject({ code: "PT429", detail: "queue_full" });
    expect((await sql`select count(*)::int as n from chat_messages where chat_id = ${chatId}`)[0].n).toBe(1);
  });
});

describe("claim, heartbeat, finish", () => {
  it("claims the oldest pending chats once each, holding each with a new running run", async () => {
    const chats = [];
    for (let i = 0; i < 3; i++) {
      const chat = await ownedChat(sql);
      await say(chat.accountId, chat.chatId);
      chats.push(chat.chatId);
    }
    const { claims } = await asService("public.claim_chats('w1', 2, $1)", chats);
    expect(claims.map((c: Json) => c.chat.id)).toEqual(chats.slice(0, 2));
    for (const c of claims) {
      expect(c.chat).toMatchObject({ status: "running", active_stream_id: c.run.id });
      expect(c.run).toMatchObject({ status: "running", chat_id: c.chat.id });
      expect(await state(c.chat.id)).toMatchObject({ runner_id: "w1", attempts: 1 });
    }
    expect((await asService("public.claim_chats('w2', 5, $1)", chats)).claims.map((c: Json) => c.chat.id))
      .toEqual([chats[2]]);
    expect((await asService("public.claim_chats('w3', 5, $1)", chats)).claims).toEqual([]);
  });

  it("8 workers claiming from 500 pending chats at once claim each exactly once", async () => {
    const accountId = await makeAccount(sql);
    const session = await makeSession(sql, accountId);
    const chats = (await sql`
      insert into chats (id, session_id)
      select 'bulk-' || ${session.id} || '-' || n, ${session.id} from generate_series(1, 500) n
      returning id`).map((r) => r.id as string);
    await sql`update chats set status = 'pending' where id = any(${chats})`;
    const claimed = (await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      const mine: string[] = [];
      for (;;) {
        const { claims } = await asService("public.claim_chats($1, 5, $2)", `w${w}`, chats);
        if (claims.length === 0) return mine;
        mine.push(...claims.map((c: Json) => c.chat.id));
      }
    }))).flat();
    expect(claimed.length).toBe(500);
    expect(new Set(claimed).size).toBe(500);
    const runs = await sql`select count(*)::int as n, count(distinct chat_id)::int as chats from workflow_runs
                            where chat_id = any(${chats})`;
    expect(runs[0]).toEqual({ n: 500, chats: 500 });
  });

  it("a heartbeat refreshes only the runner's own chats, reports stops, and takes no revision nor updated_at", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    await claim("w1", chatId);
    const before = await state(chatId);
    expect(await asService("public.heartbeat('w1', $1)", [chatId, "no-such-chat"])).toEqual({
      held: [chatId],
      stop: [],
    });
    expect(await asService("public.heartbeat('w2', $1)", [chatId])).toEqual({ held: [], stop: [] });
    const after = await state(chatId);
    expect(after.heartbeat_at.getTime()).toBeGreaterThan(before.heartbeat_at.getTime() - 1);
    expect([after.revision, after.updated_at]).toEqual([before.revision, before.updated_at]);

    expect((await asOwner(accountId, "public.stop_chat($1)", chatId)).chat.status).toBe("stopping");
    expect(await asService("public.heartbeat('w1', $1)", [chatId])).toEqual({ held: [chatId], stop: [chatId] });
  });

  it("finishing the holding run ends the turn: idle, lease cleared, attempts reset; queued messages promoted in order make it pending", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId, "first");
    await claim("w1", chatId);
    await say(accountId, chatId, "second");
    await say(accountId, chatId, "third");
    await finish(await runOf(chatId), chatId, "completed");
    expect(await state(chatId)).toMatchObject({
      status: "pending",
      runner_id: null,
      active_stream_id: null,
      heartbeat_at: null,
      attempts: 0,
    });
    const history = await sql`select id from chat_messages where chat_id = ${chatId} order by seq`;
    expect(history.map((r) => r.id)).toEqual(["first", "second", "third"]);
    expect((await sql`select count(*)::int as n from chat_queued_messages where chat_id = ${chatId}`)[0].n).toBe(0);

    await claim("w1", chatId);
    await finish(await runOf(chatId), chatId, "completed");
    expect((await state(chatId)).status).toBe("idle");
  });

  it("a failed finish leaves error (turn failed), or pending when messages were queued", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    await claim("w1", chatId);
    await finish(await runOf(chatId), chatId, "failed");
    expect(await state(chatId)).toMatchObject({ status: "error", last_error: "turn failed" });

    await say(accountId, chatId);
    await claim("w1", chatId);
    await say(accountId, chatId);
    await finish(await runOf(chatId), chatId, "failed");
    expect((await state(chatId)).status).toBe("pending");
  });

  it("finishing a run that does not hold the chat records only the run", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    await claim("w1", chatId);
    const held = await state(chatId);
    await asService("public.log_workflow_step('side-run', $1, now())", chatId);
    expect((await finish("side-run", chatId, "completed")).run.status).toBe("completed");
    expect(await state(chatId)).toMatchObject({ status: "running", active_stream_id: held.active_stream_id });
  });

  it("log_workflow_step without started_at is fine for an existing run and PT400 for an unknown one", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    await claim("w1", chatId);
    const steps = [{ step_number: 1, started_at: new Date().toISOString(), finished_at: new Date().toISOString() }];
    const logged = await asService(
      "public.log_workflow_step($1, $2, steps => $3::jsonb, runner_id => 'w1')",
      await runOf(chatId),
      chatId,
      steps,
    );
    expect(logged).toMatchObject({ created: false, steps: [{ step_number: 1, recorded: true }] });
    const unknown = await failure(asService("public.log_workflow_step('nope', $1)", chatId));
    expect(unknown).toMatchObject({ code: "PT400", detail: "unknown_run" });
  });
});

describe("stop", () => {
  it("running -> stopping, pending -> idle, otherwise nothing; another account's chat is PT404", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    expect((await asOwner(accountId, "public.stop_chat($1)", chatId)).chat.status).toBe("idle");
    await say(accountId, chatId);
    expect((await asOwner(accountId, "public.stop_chat($1)", chatId)).chat.status).toBe("idle");
    await say(accountId, chatId);
    await claim("w1", chatId);
    expect((await asOwner(accountId, "public.stop_chat($1)", chatId)).chat.status).toBe("stopping");
    expect((await failure(asOwner(crypto.randomUUID(), "public.stop_chat($1)", chatId)))?.code).toBe("PT404");
    expect((await state(chatId)).status).toBe("stopping");
    await finish(await runOf(chatId), chatId, "aborted");
    expect((await state(chatId)).status).toBe("idle");
  });
});

describe("stale recovery", () => {
  const expire = (chatId: string) =>
    sql`update chats set heartbeat_at = now() - interval '1 hour' where id = ${chatId}`;

  it("fails the run of a silent worker and gives the chat back, up to three claims; a late finish changes nothing", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    const runs: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await claim(`w${attempt}`, chatId);
      runs.push(await runOf(chatId));
      expect((await state(chatId)).attempts).toBe(attempt);
      await expire(chatId);
      await asService("public.recover_stale_chats()");
    }
    expect(await state(chatId)).toMatchObject({ status: "error", last_error: "lease expired", active_stream_id: null });
    const statuses = await sql`select status from workflow_runs where id = any(${runs})`;
    expect(statuses.map((r) => r.status)).toEqual(["failed", "failed", "failed"]);

    // The worker of the first run wakes up and finishes it: same status is fine, another is a conflict.
    expect((await finish(runs[0], chatId, "failed")).run.status).toBe("failed");
    expect((await failure(finish(runs[0], chatId, "completed")))?.code).toBe("PT409");
    expect((await state(chatId)).status).toBe("error");
  });

  it("runs at the start of every claim; a stale stopping chat goes idle", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    await claim("w1", chatId);
    await expire(chatId);
    const { claims } = await claim("w2", chatId);
    expect(claims.map((c: Json) => c.chat.runner_id ?? c.chat.id)).toEqual([chatId]);
    expect((await state(chatId)).runner_id).toBe("w2");

    await asOwner(accountId, "public.stop_chat($1)", chatId);
    await expire(chatId);
    await asService("public.recover_stale_chats()");
    expect(await state(chatId)).toMatchObject({ status: "idle", last_error: null });
  });

  it("the lease columns are set and cleared together with running (a CHECK)", async () => {
    const { chatId } = await ownedChat(sql);
    const e = await failure(sql`update chats set status = 'running' where id = ${chatId}`);
    expect(e?.code).toBe("23514");
  });
});

describe("who may call what", () => {
  it("users may stop their chats but not claim, heartbeat or recover", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    for (const query of ["public.claim_chats('x')", "public.heartbeat('x', '{}')", "public.recover_stale_chats()"]) {
      expect((await failure(asOwner(accountId, query)))?.code, query).toBe("42501");
    }
    expect((await asOwner(accountId, "public.stop_chat($1)", chatId)).chat.id).toBe(chatId);
  });
});
