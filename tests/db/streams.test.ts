// Live streams in SQL (migration 20261206100000): append_chunks keeps one gapless, ordered stream per
// assistant message, written only by the runner holding the chat; a retried batch is accepted once;
// the turn's end closes the stream; followers read chunks after a position with chat_changes.
import { describe, expect, it } from "vitest";
import { asUser, call, failure, useTestDatabase } from "../support/db.ts";
import { id, makeAccount, makeChat, makeSession, uiMessage } from "../support/factories.ts";

const { sql } = await useTestDatabase();

/** A chat with a user message, claimed by `runner`: its owner, its id and its run. */
async function heldChat(runner = id("runner")) {
  const accountId = await makeAccount(sql);
  const session = await makeSession(sql, accountId);
  const chat = await makeChat(sql, session.id);
  await call(sql, accountId, "public.append_message($1, $2)", chat.id, uiMessage(id("u"), "user", "hi"));
  const claimed = await call(sql, null, "public.claim_chats($1, 1, array[$2])", runner, chat.id);
  expect(claimed.claims).toHaveLength(1);
  return { accountId, chatId: chat.id as string, runId: claimed.claims[0].run.id as string, runner };
}

const append = (chatId: string, runner: string, messageId: string, from: number, chunks: unknown[]) =>
  call(sql, null, "public.append_chunks($1, $2, $3, $4, $5)", chatId, runner, messageId, from, chunks);

const opening = (messageId: string) => [
  { type: "start", messageId },
  { type: "start-step" },
  { type: "text-start", id: "t" },
];
const delta = (text: string) => ({ type: "text-delta", id: "t", delta: text });

/** Every chunk stored for a message, in index order. */
const storedChunks = (messageId: string) =>
  sql`select e.chunk from chat_stream_chunks k cross join jsonb_array_elements(k.chunks) with ordinality e(chunk, n)
       where k.message_id = ${messageId} order by k.from_index, e.n`.then((rows) => rows.map((r) => r.chunk));

const finishRun = (chatId: string, runId: string, status: string) =>
  call(
    sql,
    null,
    "public.log_workflow_step($1, $2, finish_status => $3, finished_at => now())",
    runId,
    chatId,
    status,
  );

describe("append_chunks", () => {
  it("opens a stream at a new chat revision, appends batch after batch, and answers where the next starts", async () => {
    const { chatId, runner } = await heldChat();
    const messageId = id("reply");
    const [before] = await sql`select revision::int from chats where id = ${chatId}`;
    expect(await append(chatId, runner, messageId, 0, opening(messageId))).toEqual({ next: 3, stop: false });
    expect(await append(chatId, runner, messageId, 3, [delta("Hello "), delta("world")])).toEqual({
      next: 5,
      stop: false,
    });
    const [stream] =
      await sql`select opened_revision::int, next_index, closed_at from chat_streams where message_id = ${messageId}`;
    expect(stream).toEqual({ opened_revision: before.revision + 1, next_index: 5, closed_at: null });
    // Only the opening took a revision: a batch does not touch the chat.
    const [after] = await sql`select revision::int from chats where id = ${chatId}`;
    expect(after.revision).toBe(before.revision + 1);
    expect(await storedChunks(messageId)).toEqual([...opening(messageId), delta("Hello "), delta("world")]);
  });

  it("accepts a retried batch once, and the new part of an overlapping one", async () => {
    const { chatId, runner } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, opening(messageId));
    expect(await append(chatId, runner, messageId, 0, opening(messageId))).toEqual({ next: 3, stop: false });
    expect(await append(chatId, runner, messageId, 2, [{ type: "text-start", id: "t" }, delta("a")]))
      .toEqual({ next: 4, stop: false });
    expect(await storedChunks(messageId)).toEqual([...opening(messageId), delta("a")]);
    const [{ revision }] = await sql`select revision::int from chats where id = ${chatId}`;
    await append(chatId, runner, messageId, 0, opening(messageId));
    expect((await sql`select revision::int from chats where id = ${chatId}`)[0].revision).toBe(revision);
  });

  it("refuses a gap and a conflicting overlap with the index to resume from, writing nothing", async () => {
    const { chatId, runner } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, opening(messageId));
    const gap = await failure(append(chatId, runner, messageId, 5, [delta("x")]));
    expect(gap).toMatchObject({ code: "PT409", detail: "chunk_gap", hint: '{"next": 3}' });
    const conflict = await failure(append(chatId, runner, messageId, 2, [delta("not what was sent")]));
    expect(conflict).toMatchObject({ code: "PT409", detail: "chunk_conflict", hint: '{"next": 3}' });
    const lost = await failure(append(chatId, runner, id("never-opened"), 4, [delta("x")]));
    expect(lost).toMatchObject({ code: "PT409", detail: "chunk_gap", hint: '{"next": 0}' });
    expect(await storedChunks(messageId)).toEqual(opening(messageId));
  });

  it("only the runner holding the chat may append; a stopped chat answers stop: true", async () => {
    const { accountId, chatId, runner } = await heldChat();
    const messageId = id("reply");
    const stranger = await failure(append(chatId, "someone-else", messageId, 0, opening(messageId)));
    expect(stranger).toMatchObject({ code: "PT409", detail: "not_held" });
    expect(await sql`select 1 from chat_streams where message_id = ${messageId}`).toHaveLength(0);
    await append(chatId, runner, messageId, 0, opening(messageId));
    await call(sql, accountId, "public.stop_chat($1)", chatId);
    expect(await append(chatId, runner, messageId, 3, [delta("a")])).toEqual({ next: 4, stop: true });
  });

  it("a stream starts with its start chunk and ends with finish or abort; nothing comes after", async () => {
    const { chatId, runner } = await heldChat();
    const messageId = id("reply");
    const wrongStart = await failure(append(chatId, runner, messageId, 0, [{ type: "start", messageId: "other" }]));
    expect(wrongStart).toMatchObject({ code: "PT400", detail: "invalid_stream_start" });
    await append(chatId, runner, messageId, 0, opening(messageId));
    expect(await failure(append(chatId, runner, messageId, 3, [{ type: "start", messageId }])))
      .toMatchObject({ code: "PT400" });
    expect(await failure(append(chatId, runner, messageId, 3, [{ type: "finish" }, delta("late")])))
      .toMatchObject({ code: "PT400" });
    expect(await append(chatId, runner, messageId, 3, [{ type: "text-end", id: "t" }, { type: "finish" }]))
      .toEqual({ next: 5, stop: false });
    // The closing batch again is a retry; anything new is refused.
    expect(await append(chatId, runner, messageId, 3, [{ type: "text-end", id: "t" }, { type: "finish" }]))
      .toEqual({ next: 5, stop: false });
    expect(await failure(append(chatId, runner, messageId, 5, [delta("late")])))
      .toMatchObject({ code: "PT409", detail: "stream_closed" });
  });

  it("an error chunk does not close the stream", async () => {
    const { chatId, runner } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, [...opening(messageId), { type: "error", errorText: "rate limited" }]);
    expect(await append(chatId, runner, messageId, 4, [delta("retrying")])).toEqual({ next: 5, stop: false });
  });

  it("refuses a message id of another chat or of a user message", async () => {
    const a = await heldChat(), b = await heldChat();
    const [userMessage] = await sql`select id from chat_messages where chat_id = ${a.chatId}`;
    expect(await failure(append(a.chatId, a.runner, userMessage.id, 0, opening(userMessage.id))))
      .toMatchObject({ code: "PT409" });
    const messageId = id("reply");
    await append(a.chatId, a.runner, messageId, 0, opening(messageId));
    expect(await failure(append(b.chatId, b.runner, messageId, 0, opening(messageId))))
      .toMatchObject({ code: "PT409" });
  });
});

describe("the end of a turn closes its stream", () => {
  for (
    const [outcome, ending] of [
      ["completed", [{ type: "finish" }]],
      ["aborted", [{ type: "abort" }]],
      ["failed", [{ type: "error", errorText: "the turn failed" }, { type: "abort" }]],
    ] as const
  ) {
    it(`finished as ${outcome}: ${ending.map((c) => c.type).join(" then ")}`, async () => {
      const { chatId, runner, runId } = await heldChat();
      const messageId = id("reply");
      await append(chatId, runner, messageId, 0, opening(messageId));
      await finishRun(chatId, runId, outcome);
      expect((await storedChunks(messageId)).slice(3)).toEqual(ending);
      const [stream] =
        await sql`select next_index, closed_at is not null as closed from chat_streams where message_id = ${messageId}`;
      expect(stream).toEqual({ next_index: 3 + ending.length, closed: true });
      // The worker's late chunks are refused: it no longer holds the chat.
      expect(await failure(append(chatId, runner, messageId, 3, [delta("late")]))).toMatchObject({
        detail: "not_held",
      });
    });
  }

  it("a stream the worker closed itself gets nothing more", async () => {
    const { chatId, runner, runId } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, [...opening(messageId), { type: "finish" }]);
    await finishRun(chatId, runId, "completed");
    expect(await storedChunks(messageId)).toHaveLength(4);
  });

  it("stale recovery closes it with an error, then abort; closed streams are deleted stream_keep later", async () => {
    const { chatId, runner } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, opening(messageId));
    await call(sql, null, "public.recover_stale_chats('0 seconds', '1 hour')");
    expect((await storedChunks(messageId)).slice(3).map((c) => c.type)).toEqual(["error", "abort"]);
    await call(sql, null, "public.recover_stale_chats('1 hour', '1 hour')");
    expect(await sql`select 1 from chat_streams where message_id = ${messageId}`).toHaveLength(1);
    await call(sql, null, "public.recover_stale_chats('1 hour', '0 seconds')");
    expect(await sql`select 1 from chat_streams where message_id = ${messageId}`).toHaveLength(0);
    expect(await storedChunks(messageId)).toEqual([]);
  });
});

describe("reading streams", () => {
  it("chat_changes returns the chunks after a position, and without one the stream in flight from its start", async () => {
    const { accountId, chatId, runner } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, opening(messageId));
    await append(chatId, runner, messageId, 3, [delta("a"), delta("b")]);
    const [{ opened_revision: stream }] =
      await sql`select opened_revision::int from chat_streams where message_id = ${messageId}`;

    const joining = await call(sql, accountId, "public.chat_changes($1)", chatId);
    expect(joining.position).toEqual([stream, -1]);
    expect(joining.chunks.flatMap((b: { chunks: unknown[] }) => b.chunks)).toHaveLength(5);
    expect(joining.streams).toEqual([
      {
        message_id: messageId,
        stream,
        run_id: expect.any(String),
        chunks: 5,
        closed: false,
        in_flight: true,
        continues: null,
      },
    ]);

    const resuming = await call(
      sql,
      accountId,
      "public.chat_changes($1, $2, 200, $3, 3)",
      chatId,
      stream,
      stream,
    );
    expect(resuming.chunks).toEqual([
      { message_id: messageId, stream, from: 3, at_revision: stream, chunks: [delta("a"), delta("b")] },
    ]);
    // A plain revision before the stream opened: streams opened after it, from their start.
    const before = await call(sql, accountId, "public.chat_changes($1, $2)", chatId, stream - 1);
    expect(before.position).toEqual([stream - 1, 2147483647]);
    expect(before.chunks.map((b: { from: number }) => b.from)).toEqual([0, 3]);
  });

  it("pages a long stream: chunk_limit chunks at most, a whole batch at least, and chunks_more", async () => {
    const { accountId, chatId, runner } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, opening(messageId));
    for (let from = 3; from < 303; from += 100) {
      await append(chatId, runner, messageId, from, Array.from({ length: 100 }, (_, i) => delta(`${from + i} `)));
    }
    const page = await call(sql, accountId, "public.chat_changes($1, chunk_limit => 150)", chatId);
    expect(page.chunks.map((b: { from: number }) => b.from)).toEqual([0, 3, 103]);
    expect(page.chunks_more).toBe(true);
    const [stream] = page.position;
    const rest = await call(sql, accountId, "public.chat_changes($1, $2, 200, $2, 202, 150)", chatId, stream);
    expect(rest.chunks.map((b: { from: number }) => b.from)).toEqual([203]);
    expect(rest.chunks_more).toBe(false);
  });

  it("owners read their chats' streams; other users see none, and no API role writes them", async () => {
    const { accountId, chatId, runner } = await heldChat();
    const messageId = id("reply");
    await append(chatId, runner, messageId, 0, opening(messageId));
    const own = await asUser(sql, accountId, (tx) => tx`select count(*)::int as n from chat_stream_chunks`);
    expect(own[0].n).toBe(1);
    const stranger = await makeAccount(sql);
    const seen = await asUser(sql, stranger, async (tx) => ({
      streams: (await tx`select count(*)::int as n from chat_streams`)[0].n,
      chunks: (await tx`select count(*)::int as n from chat_stream_chunks`)[0].n,
    }));
    expect(seen).toEqual({ streams: 0, chunks: 0 });
    const write = await failure(
      asUser(sql, accountId, (tx) =>
        tx`insert into chat_stream_chunks (message_id, from_index, at_revision, chunks)
         values (${messageId}, 3, 0, '[{"type": "finish"}]')`),
    );
    expect(write?.code).toBe("42501");
    const direct = await failure(asUser(sql, accountId, (tx) => tx`update chat_streams set next_index = 0`));
    expect(direct?.code).toBe("42501");
    expect(await failure(call(sql, accountId, "public.append_chunks($1, $2, $3, 0, $4)", chatId, runner, id("m"), [])))
      .toMatchObject({ code: "42501" });
  });
});
