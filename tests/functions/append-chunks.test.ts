// append-chunks over HTTP, as a worker sends it: the lease holder only, batches of valid UI message
// chunks (strict: no extra keys), retries accepted once, gaps and conflicts refused with the index to
// resume from; bad input is a 4xx and writes nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { claimChatsResponse } from "../../functions/_shared/schemas/mod.ts";
import { appendChunksResponse } from "../../functions/_shared/schemas/mod.ts";
import { uiMessage } from "../support/factories.ts";
import { hostileString, unstorableStrings } from "../support/hostile.ts";
import { invoke, post, serviceRoleKey, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();

/** A user's chat with a message, claimed by a new runner. */
async function heldChat() {
  const user = await userWithChat();
  await invoke(user.client, "append-message", { chat_id: user.chatId, message: uiMessage(uid("u"), "user", "hi") });
  const runner = uid("runner");
  const { body } = await post("claim-chats", {
    token: serviceRoleKey,
    body: JSON.stringify({ runner_id: runner, chat_ids: [user.chatId] }),
  });
  const [claim] = claimChatsResponse.parse(body).claims;
  return { ...user, runner, runId: claim.run.id, messageId: uid("reply") };
}

type Held = Awaited<ReturnType<typeof heldChat>>;

const send = (held: Held, from: number, chunks: unknown[], token = serviceRoleKey, runner = held.runner) =>
  post("append-chunks", {
    token,
    body: JSON.stringify({ chat_id: held.chatId, runner_id: runner, message_id: held.messageId, from, chunks }),
  });

const opening = (messageId: string) => [
  { type: "start", messageId },
  { type: "start-step" },
  { type: "text-start", id: "t" },
];
const delta = (text: string) => ({ type: "text-delta", id: "t", delta: text });
const stored = (messageId: string) =>
  sql`select coalesce(sum(jsonb_array_length(chunks)), 0)::int as n from chat_stream_chunks where message_id = ${messageId}`
    .then((rows) => rows[0].n);

describe("append-chunks", () => {
  it("stores batch after batch and answers { next, stop }; a retried batch gets the same answer", async () => {
    const held = await heldChat();
    const first = await send(held, 0, opening(held.messageId));
    expect(first.status).toBe(200);
    expect(appendChunksResponse.parse(first.body)).toEqual({ next: 3, stop: false });
    expect((await send(held, 0, opening(held.messageId))).body).toEqual({ next: 3, stop: false });
    expect((await send(held, 3, [delta("hello")])).body).toEqual({ next: 4, stop: false });
    expect(await stored(held.messageId)).toBe(4);
  });

  it("gaps and conflicting overlaps are 409 with details.next; a non-holder is 409 not_held; nothing is written", async () => {
    const held = await heldChat();
    await send(held, 0, opening(held.messageId));
    const gap = await send(held, 7, [delta("x")]);
    expect(gap).toMatchObject({ status: 409, body: { error: { code: "chunk_gap", details: { next: 3 } } } });
    const conflict = await send(held, 1, [delta("x")]);
    expect(conflict).toMatchObject({ status: 409, body: { error: { code: "chunk_conflict", details: { next: 3 } } } });
    const stranger = await send(held, 3, [delta("x")], serviceRoleKey, "not-the-holder");
    expect(stranger).toMatchObject({ status: 409, body: { error: { code: "not_held" } } });
    expect(await stored(held.messageId)).toBe(3);
  });

  it("after the stream's finish more chunks are 409 stream_closed; a user's token is 403", async () => {
    const held = await heldChat();
    await send(held, 0, [...opening(held.messageId), { type: "text-end", id: "t" }, { type: "finish" }]);
    expect(await send(held, 5, [delta("late")])).toMatchObject({
      status: 409,
      body: { error: { code: "stream_closed" } },
    });
    expect((await send(held, 5, [delta("late")], held.token)).status).toBe(403);
    expect(await stored(held.messageId)).toBe(5);
  });

  it("refuses what an AI SDK client would refuse, and sizes out of range, with a 400 naming the problem", async () => {
    const held = await heldChat();
    const bad: [string, unknown[]][] = [
      ["no chunks", []],
      ["501 chunks", Array.from({ length: 501 }, () => delta("x"))],
      ["an unknown chunk type", [{ type: "no-such-chunk" }]],
      ["an extra key", [{ ...delta("x"), extra: 1 }]],
      ["a missing field", [{ type: "text-delta", id: "t" }]],
      ["a finish reason the SDK does not know", [{ type: "finish", finishReason: "bored" }]],
      ["a NUL character", [delta("a\u0000b")]],
      ...unstorableStrings.map((text): [string, unknown[]] => [`unstorable ${JSON.stringify(text)}`, [delta(text)]]),
    ];
    for (const [what, chunks] of bad) {
      const answer = await send(held, 0, chunks);
      expect(answer.status, what).toBe(400);
      expect(answer.body, what).toMatchObject({ error: { code: "invalid_request" } });
    }
    const atLimit = Array.from({ length: 500 }, (_, i) => (i === 0 ? opening(held.messageId)[0] : delta(`${i} `)));
    expect((await send(held, 0, atLimit)).body).toEqual({ next: 500, stop: false });
    expect(await stored(held.messageId)).toBe(500);
  });

  it("hostile text in deltas and ids is stored exactly as sent, or refused with a 4xx: never a 5xx", async () => {
    const held = await heldChat();
    await send(held, 0, opening(held.messageId));
    let next = 3;
    await fc.assert(
      fc.asyncProperty(
        hostileString({ maxLength: 80 }),
        hostileString({ minLength: 1, maxLength: 40 }),
        async (text, partId) => {
          const chunk = { type: "text-delta", id: partId, delta: text };
          const answer = await send(held, next, [chunk]);
          expect(answer.status).toBeLessThan(500);
          if (answer.status !== 200) return;
          const [row] = await sql`
          select chunks -> 0 as chunk from chat_stream_chunks where message_id = ${held.messageId} and from_index = ${next}`;
          expect(row.chunk).toEqual(chunk);
          next += 1;
        },
      ),
      { numRuns: 60 },
    );
    expect(next).toBeGreaterThan(3);
  });
});
