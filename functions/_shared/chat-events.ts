// The order of a chat's events, and a follower's place in it.
//
// A chat changes in two ways: by revisions (a message written or rewritten, the chat's state), and by
// the chunks of its live streams, which take no revision (append_chunks). A follower's position is
// therefore a pair: the revision it has seen everything up to, and the last chunk it has, named by
// its stream (the revision that stream opened at) and its index there. Chunks are ordered by that key,
// and a stream opened later has a larger key than any chunk of an earlier one.
//
// Events go out in one order: by revision, a message before the chat (and the chat's queue after
// it), and each batch of chunks after the revision that was current when it was written
// (at_revision). A cut of the history (an edit, a regenerate) is a reset at the revision it took:
// the chunks of the turn it ended come before it, the new history after it. The cursor a follower
// resumes from is its position after an event:
//
//   <revision>                    no chunk of a live stream seen (a plain revision, as before streams)
//   <revision>.<stream>.<chunk>   and the chunks up to <chunk> of the stream opened at <stream>
//
// Resuming from a plain revision replays the stream in flight from its start chunk, if it opened at
// or before that revision: a follower holding a plain revision has none of its chunks.
import type { ChatSummary, MessageSummary, UIMessage } from "./schemas/mod.ts";
import type { ChatChanges, HistoryReset, QueuedMessage, UIMessageChunk } from "./schemas/mod.ts";

/** The chunk index of a position that holds no chunk of the stream it names (only streams after it). */
export const noChunk = 2147483647;

export interface Position {
  revision: number;
  /** The opened revision of the stream of `chunk`. */
  stream: number;
  /** The last chunk index held; -1: none of that stream yet; noChunk: no stream up to `stream`. */
  chunk: number;
}

/** Where a read starts: a position, a plain revision (stream null), or the chat as it is now (revision null). */
export interface Cursor {
  revision: number | null;
  stream: number | null;
  chunk: number | null;
}

/** The chat as it is now: no history, the stream in flight from its start (a follower that joins). */
export const fromNow: Cursor = Object.freeze({ revision: null, stream: null, chunk: null });

export type ChatEvent =
  | { kind: "reset"; revision: number; data: Omit<HistoryReset, "revision"> }
  | { kind: "message"; revision: number; data: MessageSummary }
  | { kind: "chat"; revision: number; data: ChatSummary }
  | { kind: "queue"; revision: number; data: { queued: QueuedMessage[] } }
  | {
    kind: "chunk";
    revision: number;
    stream: number;
    index: number;
    messageId: string;
    chunk: UIMessageChunk;
    /** With a stream's start chunk: the stored message the stream continues (null: a new message). */
    continues?: UIMessage | null;
  };

/** An event and the follower's position after it (what its SSE id says). */
export type PlacedEvent = ChatEvent & { position: Position };

const cursorPattern = /^(\d{1,15})(?:\.(\d{1,15})\.(\d{1,7}))?$/;

/** A cursor as a client sends it (Last-Event-ID, `after`), or undefined if it is not one. */
export function parseCursor(text: string): Cursor | undefined {
  const match = cursorPattern.exec(text);
  if (!match) return undefined;
  const [revision, stream, chunk] = [match[1], match[2], match[3]].map((part) => (part === undefined ? null : +part));
  if (stream !== null && (stream > revision! || chunk! >= noChunk)) {
    return undefined;
  }
  return { revision, stream, chunk };
}

export function formatCursor(position: Position): string {
  const { revision, stream, chunk } = position;
  return chunk < 0 || chunk === noChunk ? `${revision}` : `${revision}.${stream}.${chunk}`;
}

const sameOrAfter = (a: Position, b: Position) => a.stream > b.stream || (a.stream === b.stream && a.chunk >= b.chunk);

/** True when `position` holds everything a read from `after` starts with: it may use that read. */
export function covers(position: Position, after: Position): boolean {
  return position.revision >= after.revision && sameOrAfter(position, after);
}

/** The position a read from `cursor` started at, as the database chose it (a plain cursor's stream). */
export function startOf(cursor: Cursor, page: ChatChanges): Position {
  return {
    revision: cursor.revision ?? -1,
    stream: page.position[0],
    chunk: page.position[1],
  };
}

const kindOrder = { reset: 0, message: 1, chat: 2, queue: 3, chunk: 4 };

/**
 * The events of `page` that a follower at `position` does not have, in order, and its position after
 * them. A page that stops short (more messages, or more chunks, to read) is cut where the shorter of
 * the two stops, and carries no chat event: the follower reads again from the new position.
 */
export function take(page: ChatChanges, position: Position): { events: PlacedEvent[]; position: Position } {
  const candidates: ChatEvent[] = [];
  let cut = Infinity;
  if (page.has_more) cut = page.messages.at(-1)!.revision;
  for (const { revision, ...reset } of page.resets) candidates.push({ kind: "reset", revision, data: reset });
  // A batch belongs after every revision before its own, and after the batches before it.
  let batchRevision = -1;
  for (const batch of page.chunks) {
    batchRevision = Math.max(batchRevision, batch.at_revision);
    batch.chunks.forEach((chunk, offset) =>
      candidates.push({
        kind: "chunk",
        revision: batchRevision,
        stream: batch.stream,
        index: batch.from + offset,
        messageId: batch.message_id,
        chunk: chunk as UIMessageChunk,
        ...(batch.from + offset === 0
          ? { continues: page.streams.find((stream) => stream.stream === batch.stream)?.continues ?? null }
          : {}),
      })
    );
  }
  if (page.chunks_more) cut = Math.min(cut, batchRevision);
  for (const message of page.messages) {
    candidates.push({
      kind: "message",
      revision: message.revision,
      data: message,
    });
  }
  if (!page.has_more && !page.chunks_more) {
    candidates.push({
      kind: "chat",
      revision: page.chat.revision,
      data: page.chat,
    });
    candidates.push({ kind: "queue", revision: page.chat.revision, data: { queued: page.queued } });
  }
  candidates.sort(
    (a, b) =>
      a.revision - b.revision ||
      kindOrder[a.kind] - kindOrder[b.kind] ||
      (a.kind === "chunk" && b.kind === "chunk" ? a.stream - b.stream || a.index - b.index : 0),
  );

  const at = { ...position };
  const events: PlacedEvent[] = [];
  for (const event of candidates) {
    if (event.revision > cut) break;
    if (event.kind === "message" || event.kind === "reset") {
      if (event.revision <= at.revision) continue;
      at.revision = event.revision;
    } else if (event.kind === "chunk") {
      const isNew = event.stream > at.stream || (event.stream === at.stream && event.index > at.chunk);
      if (!isNew) continue;
      at.stream = event.stream;
      at.chunk = event.index;
      at.revision = Math.max(at.revision, event.revision);
    } else {
      at.revision = Math.max(at.revision, event.revision);
    }
    events.push({ ...event, position: { ...at } });
  }
  return { events, position: at };
}
