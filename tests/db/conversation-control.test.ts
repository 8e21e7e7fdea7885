// Conversation control at the SQL level: edit and regenerate (the history cut and kept), tool
// approvals (the waiting status and every way out of it), interrupting a turn, and the queue managed
// by its owner; called the way the edge functions call them.
import { describe, expect, it } from "vitest";
import { failure, rpcOn, useTestDatabase } from "../support/db.ts";
import { id, ownedChat, uiMessage } from "../support/factories.ts";

const { sql } = await useTestDatabase();
const { asService, asOwner } = rpcOn(sql);

// deno-lint-ignore no-explicit-any -- jsonb results; the assertions check their shape
type Json = Record<string, any>;

const say = (accountId: string, chatId: string, messageId = id("u"), text = "hello", interrupt = false) =>
  asOwner<Json>(
    accountId,
    "public.append_message($1, $2::jsonb, interrupt => $3)",
    chatId,
    uiMessage(messageId, "user", text),
    interrupt,
  );
const claim = async (runner: string, chatId: string) =>
  (await asService<Json>("public.claim_chats($1, 1, array[$2])", runner, chatId)).claims[0]?.run.id as string;
const finish = (runId: string, chatId: string, status = "completed") =>
  asService("public.log_workflow_step($1, $2, finish_status => $3, finished_at => now())", runId, chatId, status);
const agentWrites = (runner: string, chatId: string, message: unknown) =>
  asService<Json>("public.append_message($1, $2::jsonb, $3)", chatId, message, runner);
const edit = (accountId: string, chatId: string, messageId: string, text: string) =>
  asOwner<Json>(accountId, "public.edit_message($1, $2::jsonb)", chatId, uiMessage(messageId, "user", text));
const regenerate = (accountId: string, chatId: string, messageId: string | null = null) =>
  asOwner<Json>(accountId, "public.regenerate($1, $2)", chatId, messageId);
const visible = async (chatId: string) =>
  (await sql`select id, seq::int from chat_messages where chat_id = ${chatId} order by seq`).map((m) =>
    `${m.seq}:${m.id}`
  );
const chatState = async (chatId: string) =>
  (await sql`select status, history_version, last_message_seq::int, runner_id from chats where id = ${chatId}`)[0];

/** A chat with a user message answered by the agent: [user, answer]. */
async function answeredChat() {
  const { accountId, chatId } = await ownedChat(sql);
  const question = id("u"), answer = id("a");
  await say(accountId, chatId, question, "first question");
  const run = await claim("runner-1", chatId);
  await agentWrites("runner-1", chatId, uiMessage(answer, "assistant", "first answer"));
  await finish(run, chatId);
  return { accountId, chatId, question, answer };
}

/** An assistant message asking approval for a command. */
const askingApproval = (messageId: string, approvals = ["approval-1"]) => ({
  id: messageId,
  role: "assistant",
  parts: [
    { type: "step-start" },
    ...approvals.map((approval, n) => ({
      type: "tool-runCommand",
      toolCallId: `call-${n}`,
      state: "approval-requested",
      input: { command: `echo "$HOME" \\ 'x' ${n}` },
      approval: { id: approval },
    })),
  ],
});

/** A chat whose agent asked approval for `approvals` and whose turn ended: waiting. */
async function waitingChat(approvals = ["approval-1"]) {
  const { accountId, chatId } = await ownedChat(sql);
  await say(accountId, chatId, id("u"), "please run: npm test");
  const run = await claim("runner-1", chatId);
  const messageId = id("a");
  await agentWrites("runner-1", chatId, askingApproval(messageId, approvals));
  await finish(run, chatId);
  return { accountId, chatId, messageId, run };
}
const respond = (
  accountId: string,
  chatId: string,
  messageId: string,
  approval: string,
  approved: boolean,
  reason?: string,
) =>
  asOwner<Json>(
    accountId,
    "public.respond_to_approval($1, $2, $3, $4, $5)",
    chatId,
    messageId,
    approval,
    approved,
    reason ?? null,
  );
const partsOf = async (messageId: string) =>
  (await sql`select parts from chat_messages where id = ${messageId}`)[0].parts.parts as Json[];

describe("edit_message", () => {
  it("rewrites the user message in place, cuts what followed into an earlier branch, and makes the chat pending", async () => {
    const { accountId, chatId, question, answer } = await answeredChat();
    const followUp = id("u");
    await say(accountId, chatId, followUp, "second question");
    const edited = await edit(accountId, chatId, question, "first question, fixed");
    expect(edited).toMatchObject({
      edited: true,
      cut: { history_version: 1, from_seq: 1 },
      dropped_queue: [],
      message: { id: question, seq: 1, message: { parts: [{ text: "first question, fixed" }] } },
      chat: { status: "pending", history_version: 1, last_message_seq: 1 },
    });
    expect(await visible(chatId)).toEqual([`1:${question}`]);
    // Version 0 is readable as it was; the visible history is version 1.
    const before = await asOwner<Json>(accountId, "public.get_messages($1, history_version => 0)", chatId);
    expect(before.messages.map((m: Json) => `${m.seq}:${m.id}:${m.message.parts[0].text}`)).toEqual([
      `1:${question}:first question`,
      `2:${answer}:first answer`,
      `3:${followUp}:second question`,
    ]);
    const now = await asOwner<Json>(accountId, "public.get_messages($1)", chatId);
    expect(now).toMatchObject({ history_version: 1, has_more: false });
    expect(now.messages.map((m: Json) => m.message.parts[0].text)).toEqual(["first question, fixed"]);
    // The next message takes the seq after the edited one.
    await say(accountId, chatId, id("u"));
    expect((await chatState(chatId)).last_message_seq).toBe(2);
  });

  it("an unchanged edit is a retry: nothing is cut", async () => {
    const { accountId, chatId, question } = await answeredChat();
    const first = await edit(accountId, chatId, question, "new words");
    const again = await edit(accountId, chatId, question, "new words");
    expect(first.edited).toBe(true);
    expect(again).toMatchObject({ edited: false, cut: null, chat: { history_version: 1 } });
  });

  it("mid-turn: the run ends aborted, its stream is closed, the queue is dropped and returned, late writes are not_held", async () => {
    const { accountId, chatId, question } = await answeredChat();
    await say(accountId, chatId, id("u"), "go on");
    const run = await claim("runner-2", chatId);
    const reply = id("a");
    await asService("public.append_chunks($1, 'runner-2', $2, 0, $3::jsonb)", chatId, reply, [
      { type: "start", messageId: reply },
      { type: "text-start", id: "t" },
    ]);
    const queued = id("u");
    await say(accountId, chatId, queued, "and then");
    const edited = await edit(accountId, chatId, question, "start over");
    expect(edited.dropped_queue.map((q: Json) => q.id)).toEqual([queued]);
    expect(await chatState(chatId)).toMatchObject({ status: "pending", runner_id: null });
    const [runRow] = await sql`select status from workflow_runs where id = ${run}`;
    expect(runRow.status).toBe("aborted");
    const [stream] = await sql`select closed_at is not null as closed from chat_streams where message_id = ${reply}`;
    expect(stream.closed).toBe(true);
    const late = await failure(agentWrites("runner-2", chatId, uiMessage(reply, "assistant", "late")));
    expect(late).toMatchObject({ code: "PT409", detail: "not_held" });
    expect(await sql`select count(*)::int as n from chat_queued_messages where chat_id = ${chatId}`).toEqual([{
      n: 0,
    }]);
  });

  it("refuses assistant messages (400), other chats' and unknown messages (404), and cut ids (409)", async () => {
    const { accountId, chatId, question, answer } = await answeredChat();
    const assistant = await failure(
      asOwner(accountId, "public.edit_message($1, $2::jsonb)", chatId, uiMessage(answer, "assistant", "x")),
    );
    expect(assistant).toMatchObject({ code: "PT400", detail: "not_a_user_message" });
    const other = await answeredChat();
    expect(await failure(edit(accountId, chatId, other.question, "x"))).toMatchObject({ code: "PT404" });
    expect(await failure(edit(other.accountId, chatId, question, "x"))).toMatchObject({ code: "PT404" });
    await edit(accountId, chatId, question, "cut the answer");
    // The cut answer's id stays taken, for an edit and for a new message.
    expect(await failure(edit(accountId, chatId, answer, "x"))).toMatchObject({ code: "PT409", detail: "message_cut" });
    expect(await failure(say(accountId, chatId, answer))).toMatchObject({ code: "PT409", detail: "message_cut" });
  });
});

describe("regenerate", () => {
  it("cuts the answer to the last user message; naming the cut answer again is a retry", async () => {
    const { accountId, chatId, question, answer } = await answeredChat();
    const first = await regenerate(accountId, chatId, answer);
    expect(first).toMatchObject({
      regenerated: true,
      cut: { history_version: 1, from_seq: 2 },
      chat: { status: "pending" },
    });
    expect(await visible(chatId)).toEqual([`1:${question}`]);
    const retry = await regenerate(accountId, chatId, answer);
    expect(retry).toMatchObject({ regenerated: false, cut: null, chat: { history_version: 1 } });
    // Without a message: the last user message is answered again (a new version each time).
    expect(await regenerate(accountId, chatId)).toMatchObject({
      regenerated: true,
      cut: { history_version: 2, from_seq: 2 },
    });
  });

  it("of a user message in the middle cuts everything after it; without a user message it is a 400", async () => {
    const { accountId, chatId, question } = await answeredChat();
    await say(accountId, chatId, id("u"), "second");
    await regenerate(accountId, chatId, question);
    expect(await visible(chatId)).toEqual([`1:${question}`]);
    const empty = await ownedChat(sql);
    expect(await failure(regenerate(empty.accountId, empty.chatId))).toMatchObject({
      code: "PT400",
      detail: "nothing_to_regenerate",
    });
  });

  it("16 concurrent edits, regenerates, appends and claims on one chat leave one consistent history", async () => {
    const { accountId, chatId, question } = await answeredChat();
    const moves = [
      (n: number) => edit(accountId, chatId, question, `version ${n}`),
      () => regenerate(accountId, chatId),
      (n: number) => say(accountId, chatId, id("u"), `message ${n}`),
      (n: number) => claim(`runner-${n}`, chatId),
    ];
    await Promise.all(Array.from({ length: 16 }, (_, n) => moves[n % 4](n)));
    // At most one turn runs, and only as the chat's holder.
    const running = await sql`select id from workflow_runs where chat_id = ${chatId} and status = 'running'`;
    const [held] = await sql`select active_stream_id from chats where id = ${chatId}`;
    expect(running.map((r) => r.id)).toEqual(held.active_stream_id ? [held.active_stream_id] : []);
    const [chat] = await sql`select last_message_seq::int, history_version, status from chats where id = ${chatId}`;
    const seqs = (await sql`select seq::int from chat_messages where chat_id = ${chatId} order by seq`).map((m) =>
      m.seq
    );
    expect(seqs).toEqual(Array.from({ length: chat.last_message_seq }, (_, n) => n + 1));
    const cuts = await sql`select history_version from chat_history_cuts where chat_id = ${chatId} order by 1`;
    expect(cuts.map((c) => c.history_version)).toEqual(Array.from({ length: chat.history_version }, (_, n) => n + 1));
    // Every version is a gapless history too.
    for (let version = 0; version <= chat.history_version; version++) {
      const page = await asOwner<Json>(
        accountId,
        "public.get_messages($1, page_size => 200, history_version => $2)",
        chatId,
        version,
      );
      expect(page.messages.map((m: Json) => m.seq)).toEqual(page.messages.map((_: Json, n: number) => n + 1));
    }
    expect(["pending", "running"]).toContain(chat.status);
  });
});

describe("tool approval", () => {
  it("a completed turn that asks approval leaves the chat waiting; approving makes it pending, changing only the approval", async () => {
    const { accountId, chatId, messageId } = await waitingChat();
    expect((await chatState(chatId)).status).toBe("waiting");
    const listed = await asOwner<Json>(accountId, "public.list_chats()");
    expect(listed.chats.find((c: Json) => c.id === chatId).status).toBe("waiting");
    const before = await partsOf(messageId);
    const answered = await respond(accountId, chatId, messageId, "approval-1", true, "go ahead");
    expect(answered).toMatchObject({ answered: true, chat: { status: "pending" } });
    const after = await partsOf(messageId);
    expect(after[1]).toEqual({
      ...before[1],
      state: "approval-responded",
      approval: { id: "approval-1", approved: true, reason: "go ahead" },
    });
    expect(after[0]).toEqual(before[0]);
    // The same answer again is a retry; the other answer is a conflict.
    expect(await respond(accountId, chatId, messageId, "approval-1", true)).toMatchObject({ answered: false });
    expect(await failure(respond(accountId, chatId, messageId, "approval-1", false))).toMatchObject({
      code: "PT409",
      detail: "already_answered",
    });
  });

  it("with two approvals, the chat waits until both are answered", async () => {
    const { accountId, chatId, messageId } = await waitingChat(["a-1", "a-2"]);
    expect((await respond(accountId, chatId, messageId, "a-1", true)).chat.status).toBe("waiting");
    expect((await respond(accountId, chatId, messageId, "a-2", false, "not that")).chat.status).toBe("pending");
  });

  it("another account, an unknown approval or message: 404; a chat not waiting: 409", async () => {
    const { accountId, chatId, messageId } = await waitingChat();
    const stranger = await ownedChat(sql);
    expect(await failure(respond(stranger.accountId, chatId, messageId, "approval-1", true))).toMatchObject({
      code: "PT404",
    });
    expect(await failure(respond(accountId, chatId, messageId, "nope", true))).toMatchObject({ code: "PT404" });
    expect(await failure(respond(accountId, chatId, id("a"), "approval-1", true))).toMatchObject({ code: "PT404" });
    // Asked mid-turn (the message stored, the turn not over): not waiting yet.
    const busy = await ownedChat(sql);
    await say(busy.accountId, busy.chatId);
    await claim("runner-3", busy.chatId);
    const asking = id("a");
    await agentWrites("runner-3", busy.chatId, askingApproval(asking));
    expect(await failure(respond(busy.accountId, busy.chatId, asking, "approval-1", true))).toMatchObject({
      code: "PT409",
      detail: "not_waiting",
    });
  });

  it("a new user message supersedes the approvals, stop denies them, and so does the timeout", async () => {
    const superseded = await waitingChat();
    await say(superseded.accountId, superseded.chatId, id("u"), "never mind");
    expect((await partsOf(superseded.messageId))[1]).toMatchObject({
      state: "output-denied",
      approval: { id: "approval-1", approved: false, reason: "superseded" },
    });
    expect((await chatState(superseded.chatId)).status).toBe("pending");

    const stopped = await waitingChat();
    await asOwner(stopped.accountId, "public.stop_chat($1)", stopped.chatId);
    expect((await partsOf(stopped.messageId))[1]).toMatchObject({
      state: "output-denied",
      approval: { reason: "stopped" },
    });
    expect((await chatState(stopped.chatId)).status).toBe("idle");

    const unanswered = await waitingChat();
    const recovered = await asService<Json>(
      "public.recover_stale_chats(approval_timeout => '0 seconds')",
    );
    expect(recovered.timed_out).toContain(unanswered.chatId);
    expect((await partsOf(unanswered.messageId))[1]).toMatchObject({
      state: "output-denied",
      approval: { reason: "timed out" },
    });
    expect((await chatState(unanswered.chatId)).status).toBe("idle");
  });

  it("a queued message at the end of an approving turn supersedes the approval instead of waiting", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    const run = await claim("runner-4", chatId);
    const asking = id("a");
    await agentWrites("runner-4", chatId, askingApproval(asking));
    await say(accountId, chatId, id("u"), "queued meanwhile");
    await finish(run, chatId);
    expect((await chatState(chatId)).status).toBe("pending");
    expect((await partsOf(asking))[1]).toMatchObject({ state: "output-denied", approval: { reason: "superseded" } });
  });

  it("only the agent writes what the agent said: the owner cannot rewrite it, directly or through append_message", async () => {
    const { accountId, chatId, messageId } = await waitingChat();
    const forged = askingApproval(messageId);
    forged.parts[1] = {
      ...forged.parts[1],
      state: "approval-responded",
      approval: { id: "approval-1", approved: true },
    } as never;
    expect(await failure(asOwner(accountId, "public.append_message($1, $2::jsonb)", chatId, forged))).toMatchObject({
      code: "PT403",
      detail: "written_by_agent",
    });
    const direct = await failure(sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${
        JSON.stringify({ sub: accountId, role: "authenticated" })
      }, true)`;
      await tx`update chat_messages set parts = ${forged as never}::jsonb where id = ${messageId}`;
    }));
    expect(direct).toMatchObject({ code: "42501" });
    expect((await partsOf(messageId))[1].state).toBe("approval-requested");
    // An assistant message the owner wrote (a client-side agent) stays the owner's to rewrite.
    const own = id("a");
    await asOwner(accountId, "public.append_message($1, $2::jsonb)", chatId, uiMessage(own, "assistant", "mine"));
    await asOwner(
      accountId,
      "public.append_message($1, $2::jsonb)",
      chatId,
      uiMessage(own, "assistant", "mine, edited"),
    );
    const [row] = await sql`select written_by, parts from chat_messages where id = ${own}`;
    expect(row).toMatchObject({ written_by: "owner", parts: { parts: [{ text: "mine, edited" }] } });
  });

  it("answer_approvals accepts the message back with approvals answered and nothing else changed", async () => {
    const { accountId, chatId, messageId } = await waitingChat();
    const [{ parts: stored }] = await sql`select parts from chat_messages where id = ${messageId}`;
    const answer = (change: (part: Json) => Json) => ({
      ...stored,
      parts: stored.parts.map((part: Json, n: number) => (n === 1 ? change(part) : part)),
    });
    const sneaky = answer((part) => ({
      ...part,
      state: "approval-responded",
      approval: { id: "approval-1", approved: true },
      input: { command: "rm -rf /" },
    }));
    expect(await failure(asOwner(accountId, "public.answer_approvals($1, $2::jsonb)", chatId, sneaky))).toMatchObject({
      code: "PT400",
      detail: "only_approvals",
    });
    const extraKey = answer((part) => ({
      ...part,
      state: "approval-responded",
      approval: { id: "approval-1", approved: true, x: 1 },
    }));
    expect(await failure(asOwner(accountId, "public.answer_approvals($1, $2::jsonb)", chatId, extraKey))).toMatchObject(
      {
        code: "PT400",
      },
    );
    const honest = answer((part) => ({
      ...part,
      state: "approval-responded",
      approval: { id: "approval-1", approved: false, reason: "no" },
    }));
    const result = await asOwner<Json>(accountId, "public.answer_approvals($1, $2::jsonb)", chatId, honest);
    expect(result).toMatchObject({ answered: 1, chat: { status: "pending" } });
    expect(await asOwner<Json>(accountId, "public.answer_approvals($1, $2::jsonb)", chatId, honest)).toMatchObject({
      answered: 0,
    });
  });
});

describe("interrupt and the queue", () => {
  it("an interrupting message goes to the front of the queue and stops the turn; it is answered next", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    const run = await claim("runner-5", chatId);
    const waiting = id("u"), urgent = id("u");
    await say(accountId, chatId, waiting, "later");
    const interrupted = await say(accountId, chatId, urgent, "stop, do this", true);
    expect(interrupted).toMatchObject({ queued: true, position: 1 });
    expect((await chatState(chatId)).status).toBe("stopping");
    // The worker sees the stop, stores its partial answer, and ends the turn aborted.
    const partial = id("a");
    await agentWrites("runner-5", chatId, uiMessage(partial, "assistant", "half an ans"));
    await finish(run, chatId, "aborted");
    expect(await visible(chatId)).toEqual([
      expect.stringMatching(/^1:/),
      `2:${partial}`,
      `3:${urgent}`,
      `4:${waiting}`,
    ]);
    expect((await chatState(chatId)).status).toBe("pending");
  });

  it("promote and delete renumber the queue; concurrent ones leave positions 1..n", async () => {
    const { accountId, chatId } = await ownedChat(sql);
    await say(accountId, chatId);
    await claim("runner-6", chatId);
    const ids = Array.from({ length: 8 }, () => id("q"));
    for (const queued of ids) await say(accountId, chatId, queued);
    const promoted = await asOwner<Json>(accountId, "public.promote_queued_message($1, $2)", chatId, ids[5]);
    expect(promoted.queued.map((q: Json) => q.id)).toEqual([ids[5], ...ids.slice(0, 5), ids[6], ids[7]]);
    const deleted = await asOwner<Json>(accountId, "public.delete_queued_message($1, $2)", chatId, ids[0]);
    expect(deleted.deleted.id).toBe(ids[0]);
    expect(deleted.queued.map((q: Json) => q.position)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await Promise.all([
      ...ids.slice(1, 4).map((queued) => asOwner(accountId, "public.promote_queued_message($1, $2)", chatId, queued)),
      ...ids.slice(6).map((queued) => asOwner(accountId, "public.delete_queued_message($1, $2)", chatId, queued)),
    ]);
    const left = await sql`select position from chat_queued_messages where chat_id = ${chatId} order by position`;
    expect(left.map((q) => q.position)).toEqual([1, 2, 3, 4, 5]);
    const stranger = await ownedChat(sql);
    expect(await failure(asOwner(stranger.accountId, "public.delete_queued_message($1, $2)", chatId, ids[1])))
      .toMatchObject({ code: "PT404" });
    expect(await failure(asOwner(accountId, "public.promote_queued_message($1, $2)", chatId, id("nope"))))
      .toMatchObject({ code: "PT404" });
  });
});

describe("followers", () => {
  it("chat_changes reports each cut as a reset in revision order, and never a cut message as current", async () => {
    const { accountId, chatId, question, answer } = await answeredChat();
    const [{ revision: seen }] = await sql`select revision::int from chats where id = ${chatId}`;
    await edit(accountId, chatId, question, "edited once");
    await regenerate(accountId, chatId);
    const changes = await asService<Json>("public.chat_changes($1, $2)", chatId, seen);
    expect(changes.resets.map((r: Json) => [r.history_version, r.from_seq])).toEqual([[1, 1], [2, 2]]);
    const revisions = [
      ...changes.resets.map((r: Json) => r.revision),
      ...changes.messages.map((m: Json) => m.revision),
    ];
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(changes.messages.map((m: Json) => m.id)).toEqual([question]);
    expect(changes.messages.map((m: Json) => m.id)).not.toContain(answer);
    // The edited message comes after the reset that cut its old version.
    expect(changes.messages[0].revision).toBeGreaterThan(changes.resets[0].revision);
  });
});
