// The client's rebuilding of replies, without a server: a real AI SDK turn of the example agent (the
// SDK's mock model: a tool call, then a streamed answer) gives the chunks a worker forwards; the
// client must rebuild from them exactly what the SDK itself would, however follow-chat delivers them.
import { readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startTurn } from "../../examples/agent-worker/agent.ts";
import { ChatView, followChat, type FollowEvent, type StoredMessage } from "../../client/follow-chat.ts";
import { messageFromChunks } from "../../client/ui-messages.ts";
import type { ChatSummary } from "../../functions/_shared/schemas/mod.ts";

const question: UIMessage = { id: "u1", role: "user", parts: [{ type: "text", text: "what is in the README?" }] };

/** The chunks of one turn of the example agent; `abortAfter` stops it once that many chunks are out. */
async function turnChunks({ abortAfter }: { abortAfter?: number } = {}): Promise<UIMessageChunk[]> {
  const abort = new AbortController();
  const turn = await startTurn({
    history: [question],
    messageId: "run-1-reply",
    signal: abort.signal,
    chunkDelayMs: 0,
  });
  const chunks: UIMessageChunk[] = [];
  for await (const chunk of turn.chunks) {
    chunks.push(chunk);
    if (chunks.length === abortAfter) abort.abort();
  }
  return chunks;
}

/** The last message the SDK's own readUIMessageStream gives for `chunks`. */
async function sdkMessage(chunks: UIMessageChunk[]): Promise<UIMessage | undefined> {
  let last: UIMessage | undefined;
  const stream = new ReadableStream<UIMessageChunk>({
    start(controller) {
      chunks.forEach((chunk) => controller.enqueue(chunk));
      controller.close();
    },
  });
  for await (const message of readUIMessageStream({ stream })) last = message;
  return last;
}

const chunkEvent = (index: number, chunk: UIMessageChunk, messageId = "run-1-reply"): FollowEvent => ({
  event: "chunk",
  id: `7.1.${index}`,
  data: { message_id: messageId, index, chunk },
});

const stored = (seq: number, message: UIMessage): StoredMessage => ({
  id: message.id,
  role: message.role as "user" | "assistant",
  seq,
  revision: seq,
  written_by: message.role === "user" ? "owner" : "backend",
  created_at: "2026-12-06T00:00:00Z",
  updated_at: "2026-12-06T00:00:00Z",
  message,
});
const messageEvent = (seq: number, message: UIMessage): FollowEvent => ({
  event: "message",
  id: String(seq),
  data: stored(seq, message),
});

/** The view after `events`, and its messages. */
async function viewOf(events: FollowEvent[]) {
  const view = new ChatView();
  events.forEach((event) => view.apply(event));
  return { view, messages: await view.messages() };
}

describe("messageFromChunks", () => {
  it("rebuilds a whole turn as the SDK's readUIMessageStream does, under the start chunk's message id", async () => {
    const chunks = await turnChunks();
    expect(chunks[0]).toEqual({ type: "start", messageId: "run-1-reply" });
    expect(chunks.at(-1)).toEqual({ type: "finish", finishReason: "stop" });
    expect(chunks.filter((c) => c.type === "finish-step")).toHaveLength(2);

    const message = await messageFromChunks(chunks);
    const sdk = await sdkMessage(chunks);
    expect(message).toEqual(sdk);
    // As JSON stores it: the SDK's keys set to undefined are gone, so a stored copy is strictly equal.
    expect(message).toStrictEqual(JSON.parse(JSON.stringify(sdk)));
    expect(message.id).toBe("run-1-reply");
    expect(message.parts.map((p) => p.type)).toEqual(["step-start", "tool-readFile", "step-start", "text"]);
    expect(message.parts[3]).toEqual({
      type: "text",
      text: 'I read the file. Answer to "what is in the README?": done.',
      state: "done",
    });
  });

  it("an aborted turn rebuilds the partial reply its followers saw", async () => {
    const whole = await messageFromChunks(await turnChunks());
    const chunks = await turnChunks({ abortAfter: 12 });
    expect(chunks.at(-1)).toEqual({ type: "abort", reason: "This operation was aborted" });
    expect(chunks.some((c) => c.type === "finish")).toBe(false);

    const partial = await messageFromChunks(chunks);
    expect(partial).toEqual(await sdkMessage(chunks));
    const text = partial.parts.at(-1) as { type: string; text: string; state: string };
    expect(text.type).toBe("text");
    expect(text.state).toBe("streaming");
    expect(text.text.length).toBeGreaterThan(0);
    expect((whole.parts.at(-1) as { text: string }).text.startsWith(text.text)).toBe(true);
    expect(text.text).not.toBe((whole.parts.at(-1) as { text: string }).text);
  });

  it("an error chunk does not throw: the message rebuilds as it was", async () => {
    const chunks = await turnChunks();
    const errorChunk: UIMessageChunk = { type: "error", errorText: "An error occurred." };
    const withError = [...chunks.slice(0, 10), errorChunk, ...chunks.slice(10)];
    expect(await messageFromChunks(withError)).toEqual(await messageFromChunks(chunks));
  });

  it("throws on chunks with a gap, which the SDK alone would end quietly", async () => {
    const chunks = await turnChunks();
    const withoutTextStart = chunks.filter((c) => c.type !== "text-start");
    await expect(messageFromChunks(withoutTextStart)).rejects.toThrow(/text-delta for missing text part/);
  });

  it("needs the start chunk naming the message", async () => {
    const chunks = await turnChunks();
    await expect(messageFromChunks(chunks.slice(1))).rejects.toThrow(/start chunk/);
    await expect(messageFromChunks([{ type: "start" }, ...chunks.slice(1)])).rejects.toThrow(/start chunk/);
    await expect(messageFromChunks([])).rejects.toThrow(/start chunk/);
  });
});

describe("ChatView", () => {
  it("rebuilds the reply chunk by chunk as it streams, after the stored messages", async () => {
    const chunks = await turnChunks();
    const view = new ChatView();
    view.apply(messageEvent(1, question));
    for (const [index, chunk] of chunks.entries()) {
      view.apply(chunkEvent(index, chunk));
      const [first, reply] = await view.messages();
      expect(first).toBe(question);
      expect(reply).toEqual(await messageFromChunks(chunks.slice(0, index + 1)));
    }
    expect(view.cursor).toBe(`7.1.${chunks.length - 1}`);
  });

  it("a replay from index 0 midway starts the reply over and ends at the same message", async () => {
    const chunks = await turnChunks();
    const whole = await messageFromChunks(chunks);
    const view = new ChatView();
    chunks.slice(0, 15).forEach((chunk, index) => view.apply(chunkEvent(index, chunk)));
    view.apply(chunkEvent(0, chunks[0]));
    expect(await view.messages()).toEqual([{ id: "run-1-reply", role: "assistant", parts: [] }]);
    chunks.slice(1).forEach((chunk, index) => view.apply(chunkEvent(index + 1, chunk)));
    expect(await view.messages()).toStrictEqual([whole]);
  });

  it("shows the stored version after a message event, and the live one again once newer chunks arrive", async () => {
    const chunks = await turnChunks();
    const firstStep = chunks.findIndex((c) => c.type === "finish-step") + 1;
    const view = new ChatView();
    chunks.slice(0, firstStep).forEach((chunk, index) => view.apply(chunkEvent(index, chunk)));
    // What the worker stores after the step: the same chunks, rebuilt.
    const step = await messageFromChunks(chunks.slice(0, firstStep));
    view.apply(messageEvent(2, step));
    expect((await view.messages())[0]).toBe(step);

    view.apply(chunkEvent(firstStep, chunks[firstStep]));
    const [live] = await view.messages();
    expect(live).not.toBe(step);
    expect(live).toEqual(await messageFromChunks(chunks.slice(0, firstStep + 1)));

    chunks.slice(firstStep + 1).forEach((chunk, index) => view.apply(chunkEvent(firstStep + 1 + index, chunk)));
    const final = await messageFromChunks(chunks);
    expect(await view.messages()).toStrictEqual([final]);
    view.apply(messageEvent(3, final));
    expect((await view.messages())[0]).toBe(final);
    // The reply is stored whole: a replay of its stream (a follower that lost its chunk position) is still taken.
    view.apply(chunkEvent(0, chunks[0]));
  });

  it("throws on a duplicated or skipped index, naming the message", async () => {
    const chunks = await turnChunks();
    const events = chunks.slice(0, 5).map((chunk, index) => chunkEvent(index, chunk));
    const { view } = await viewOf(events);
    expect(() => view.apply(chunkEvent(4, chunks[4]))).toThrow(/chunk 4 of message run-1-reply .*expected 5/);
    expect(() => view.apply(chunkEvent(6, chunks[6]))).toThrow(/chunk 6 of message run-1-reply .*expected 5/);
    expect(() => new ChatView().apply(chunkEvent(1, chunks[1]))).toThrow(/chunk 1 of message run-1-reply/);
    // Nothing was taken from the refused events: the stream goes on at 5.
    view.apply(chunkEvent(5, chunks[5]));
    expect(view.cursor).toBe("7.1.5");
  });

  it("orders messages by seq with unstored replies last, keeps the chat, and resumes from the end's cursor", async () => {
    const chunks = await turnChunks();
    const earlier: UIMessage = { id: "a0", role: "assistant", parts: [{ type: "text", text: "earlier" }] };
    const chat = { id: "chat-1", status: "running" } as ChatSummary;
    const { view, messages } = await viewOf([
      chunkEvent(0, chunks[0]),
      messageEvent(5, question),
      { event: "chat", id: "5", data: chat },
      messageEvent(4, earlier),
      { event: "end", data: { reason: "max_duration", revision: 5, cursor: "5.1.0" } },
    ]);
    expect(messages.map((m) => m.id)).toEqual(["a0", "u1", "run-1-reply"]);
    expect(view.chat).toBe(chat);
    expect(view.ended?.reason).toBe("max_duration");
    expect(view.cursor).toBe("5.1.0");
    // Events a newer server may add are skipped.
    view.apply({ event: "something-new", id: "6", data: {} });
    expect(view.cursor).toBe("6");
  });
});

describe("followChat", () => {
  afterEach(() => void vi.unstubAllGlobals());

  it("yields follow-chat's events as they arrive, cut anywhere, sending the token and the cursor", async () => {
    const chunks = await turnChunks();
    const text = [
      "retry: 1000\n\n",
      `id: 3\nevent: message\ndata: ${JSON.stringify(stored(3, question))}\n\n`,
      ": ping\n\n",
      ...chunks.map((chunk, index) =>
        `id: 3.1.${index}\nevent: chunk\ndata: ${JSON.stringify({ message_id: "run-1-reply", index, chunk })}\n\n`
      ),
      `event: end\ndata: ${JSON.stringify({ reason: "max_duration", revision: 3, cursor: "3.1.30" })}\n\n`,
    ].join("");
    // Cut into pieces of 7 bytes, so events and even characters arrive split.
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 7) controller.enqueue(bytes.slice(at, at + 7));
        controller.close();
      },
    });
    const fetch = vi.fn((_url: URL, _init?: RequestInit) =>
      Promise.resolve(new Response(body, { headers: { "Content-Type": "text/event-stream" } }))
    );
    vi.stubGlobal("fetch", fetch);

    const view = new ChatView();
    const events: FollowEvent[] = [];
    const url = "http://api.test/functions/v1/follow-chat?chat_id=chat-1";
    for await (const event of followChat({ url, token: "jwt", lastEventId: "2" })) {
      events.push(event);
      view.apply(event);
    }

    expect(String(fetch.mock.calls[0][0])).toBe(`${url}&after=2`);
    expect(fetch.mock.calls[0][1]?.headers).toEqual({ Accept: "text/event-stream", Authorization: "Bearer jwt" });
    expect(events.map((e) => e.event)).toEqual(["message", ...chunks.map(() => "chunk"), "end"]);
    expect(events[1]).toEqual({
      event: "chunk",
      id: "3.1.0",
      data: { message_id: "run-1-reply", index: 0, chunk: chunks[0] },
    });
    expect(events.at(-1)?.id).toBeUndefined();
    expect(await view.messages()).toStrictEqual([question, await messageFromChunks(chunks)]);
    expect(view.cursor).toBe("3.1.30");
  });

  it("throws with the status and the body of an error answer", async () => {
    const answer = { error: { code: "not_found", message: "no such chat, or not yours" } };
    vi.stubGlobal("fetch", () => Promise.resolve(new Response(JSON.stringify(answer), { status: 404 })));
    const events = followChat({ url: "http://api.test/functions/v1/follow-chat?chat_id=nope" });
    await expect(events.next()).rejects.toThrow(/404: .*not_found/);
  });
});
