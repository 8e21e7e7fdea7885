// A client of follow-chat: `followChat` reads the event stream, `ChatView` turns its events into the
// chat's messages, live replies included. Plain fetch and web streams, so it runs in browsers and Node 20.
//
// The rule a view follows (the README's follow-chat section is the reference):
// - `message` events are the stored messages; `chunk` events carry the UI message stream of a reply in
//   flight, each with its index in that reply's stream (0, 1, 2, ... from its `start` chunk).
// - A follower that joins or resumes without a chunk position is sent the reply again from index 0: a
//   chunk with index 0 starts that reply's chunk list over. Any other index must be the next one.
// - A reply's live version (rebuilt from its chunks) stands in for its stored version while it has
//   chunks newer than the last `message` event for it; the worker stores exactly what the chunks
//   rebuild, so when the turn ends both versions are equal. A reply that goes on after a tool
//   approval streams under the same id: its start chunk carries the message the chunks add to
//   (`continues`).
// - A `reset` (an edit or a regenerate cut the history): the messages from `from_seq` on and every
//   live reply are dropped; the new history follows. `queue` events carry the queued user messages.
import type { UIMessage, UIMessageChunk } from "ai";
import { EventSourceParserStream } from "eventsource-parser/stream";
import type { ChatSummary, MessageSummary, QueuedMessage } from "../functions/_shared/schemas/mod.ts";
import { messageFromChunks } from "./ui-messages.ts";

/** A `message` event: a stored message, with its place (`seq`) and the change that wrote it. */
export type StoredMessage = Omit<MessageSummary, "message"> & { message: UIMessage };
/** A `chunk` event: one UI message chunk of the reply `message_id`, exactly as the worker sent it. */
export interface ChunkEvent {
  message_id: string;
  index: number;
  chunk: UIMessageChunk;
  /** With index 0: the stored message this reply continues (after a tool approval), or null. */
  continues?: UIMessage | null;
}
/** A `reset` event: the history changed from `from_seq` on (an edit or a regenerate), now `history_version`. */
export interface ResetEvent {
  history_version: number;
  from_seq: number;
}
/** The `end` event, the last before the server closes the stream; reconnect from `cursor`. */
export interface EndEvent {
  reason: string;
  revision: number;
  cursor: string | null;
}
export type FollowEvent =
  | { event: "message"; id?: string; data: StoredMessage }
  | { event: "chat"; id?: string; data: ChatSummary }
  | { event: "chunk"; id?: string; data: ChunkEvent }
  | { event: "reset"; id?: string; data: ResetEvent }
  | { event: "queue"; id?: string; data: { queued: QueuedMessage[] } }
  | { event: "end"; id?: string; data: EndEvent };

/** One reply's stream as far as the view has it. */
interface LiveReply {
  chunks: UIMessageChunk[];
  /** The stored message the chunks add to, or undefined for a new message. */
  continues?: UIMessage;
  /** Chunks arrived after the last `message` event for this reply: the live version is the newer one. */
  newer: boolean;
  /** The last rebuild, reused while no chunk has arrived since. */
  built?: { count: number; message: Promise<UIMessage> };
}

const closing = new Set<string>(["finish", "abort"]);

/** The state of one followed chat, fed with follow-chat's events in the order they arrive. */
export class ChatView {
  /** The id of the last event applied: send it as Last-Event-ID to resume where this view stopped. */
  cursor: string | undefined;
  /** The chat as its last `chat` event described it (status, revision, usage, ...). */
  chat: ChatSummary | undefined;
  /** The `end` event, once the server has closed the stream. */
  ended: EndEvent | undefined;
  /** The user messages waiting for the agent, in order (the last `queue` event). */
  queued: QueuedMessage[] = [];
  readonly #stored = new Map<string, StoredMessage>();
  readonly #live = new Map<string, LiveReply>();

  constructor(cursor?: string) {
    this.cursor = cursor;
  }

  /** Applies one event; throws when the stream breaks the chunk rule (a duplicate or a gap). */
  apply(event: { event: string; id?: string; data: unknown }): void {
    switch (event.event) {
      case "message": {
        const stored = event.data as StoredMessage;
        this.#stored.set(stored.id, stored);
        const live = this.#live.get(stored.id);
        if (live) live.newer = false;
        // The stored version of a finished reply is the whole reply: its chunks are no longer needed.
        if (live && closing.has(live.chunks.at(-1)?.type ?? "")) this.#live.delete(stored.id);
        break;
      }
      case "chunk": {
        const { message_id, index, chunk, continues } = event.data as ChunkEvent;
        const live = this.#live.get(message_id);
        const expected = live?.chunks.length ?? 0;
        if (index === 0) {
          this.#live.set(message_id, { chunks: [chunk], newer: true, continues: continues ?? undefined });
        } else if (live && index === expected) {
          live.chunks.push(chunk);
          live.newer = true;
        } else {
          throw new Error(`chunk ${index} of message ${message_id} breaks its stream: expected ${expected} (or 0)`);
        }
        break;
      }
      case "chat":
        this.chat = event.data as ChatSummary;
        break;
      case "queue":
        this.queued = (event.data as { queued: QueuedMessage[] }).queued;
        break;
      case "reset": {
        const { from_seq } = event.data as ResetEvent;
        for (const [id, stored] of this.#stored) if (stored.seq >= from_seq) this.#stored.delete(id);
        this.#live.clear();
        break;
      }
      case "end":
        this.ended = event.data as EndEvent;
        if (this.ended.cursor) this.cursor = this.ended.cursor;
        break;
      default:
        // An event from a newer server: skipping it keeps this view working.
        break;
    }
    if (event.id !== undefined) this.cursor = event.id;
  }

  /** The chat's messages in order (by `seq`; replies without a stored row yet come last), live ones rebuilt. */
  messages(): Promise<UIMessage[]> {
    const stored = [...this.#stored.values()].sort((a, b) => a.seq - b.seq);
    const ids = [...stored.map((m) => m.id), ...[...this.#live.keys()].filter((id) => !this.#stored.has(id))];
    return Promise.all(ids.map((id) => {
      const live = this.#live.get(id);
      return live?.newer ? rebuilt(live) : this.#stored.get(id)!.message;
    }));
  }
}

function rebuilt(live: LiveReply): Promise<UIMessage> {
  if (live.built?.count !== live.chunks.length) {
    live.built = { count: live.chunks.length, message: messageFromChunks(live.chunks, live.continues) };
  }
  return live.built.message;
}

/**
 * Follows a chat: one request to follow-chat (`url`, with its `chat_id` query), its events parsed as
 * they arrive, until the server ends the stream or `signal` aborts. Resuming after a cut or an `end`
 * is the caller's choice: call again with `lastEventId` = the view's cursor.
 */
export async function* followChat({ url, token, lastEventId, signal }: {
  url: string;
  token?: string;
  lastEventId?: string;
  signal?: AbortSignal;
}): AsyncGenerator<FollowEvent> {
  // A page may give a relative url; Node and Deno have no page to resolve it against.
  const target = new URL(url, typeof document === "undefined" ? undefined : document.baseURI);
  // The cursor goes as `after`, which follow-chat reads like Last-Event-ID: a header would be one more
  // for a cross-origin preflight to allow.
  if (lastEventId) target.searchParams.set("after", lastEventId);
  const response = await fetch(target, {
    signal,
    headers: { Accept: "text/event-stream", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });
  if (!response.ok || !response.body) {
    throw new Error(`follow-chat answered ${response.status}: ${await response.text()}`);
  }
  // A reader rather than `for await` over the stream: Safari's streams are not async iterable.
  const reader = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())
    .getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      // An event without a name is a "message" event, as EventSource has it.
      yield { event: value.event ?? "message", id: value.id, data: JSON.parse(value.data) } as FollowEvent;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
