// One follower's event stream (text/event-stream): catch-up from its cursor, then each change as it
// commits, each event once (chat-follower.ts). The format is documented in the README ("follow-chat");
// in short:
//
//   retry: 1000                      once, first
//   id: <cursor>                     a message changed at that revision, at its latest state
//   event: message
//   data: {id, role, seq, revision, created_at, updated_at, message}
//
//   id: <cursor>                     the chat after every revision up to this one: always after the
//   event: chat                      catch-up, then after each change
//   data: {id, title, ..., revision, has_unread, ...}
//
//   id: <cursor>                     the chat's queued messages, in order: after a chat event, when
//   event: queue                     the queue changed (and first when it is not empty)
//   data: {queued: [{id, chat_id, message, position, created_at}]}
//
//   id: <cursor>                     the history was cut (edit-message, regenerate): drop the messages
//   event: reset                     from from_seq on (and any live stream's view); the new history
//   data: {history_version, from_seq}  follows
//
//   id: <cursor>                     a chunk of an assistant message's live stream (the AI SDK's UI
//   event: chunk                     message chunk as the worker sent it); index 0 is its start chunk,
//   data: {message_id, index, chunk}  and carries `continues`: the stored message the chunks add to
//                                    (an answer going on after a tool approval), or null
//
//   : ping                           every 15 s
//   event: end                       no id; then the stream closes: reconnect from `cursor`
//   data: {"reason": "max_duration", "revision": N, "cursor": "..."}
//                                    after FOLLOW_MAX_SECONDS; the reason is "slow_consumer" for a
//                                    follower over 4 MiB behind, "error" for a failed read
//
// <cursor> is `<revision>` or `<revision>.<stream>.<chunk>` (chat-events.ts). Resuming: a client that
// reconnects with the last id it saw (Last-Event-ID, as EventSource does by itself) receives every
// later event, none twice; one that holds only a plain revision gets the stream in flight again from
// its start chunk.
import { type Cursor, formatCursor, fromNow, parseCursor, type PlacedEvent } from "./chat-events.ts";
import type { Follower } from "./chat-follower.ts";
import { HttpError } from "./http.ts";

const encoder = new TextEncoder();
const pingMs = 15_000;
/** Queued bytes a follower may fall behind by before it is cut off (it reconnects and catches up). */
const maxBacklogBytes = 4 << 20;
/** How long a follower cut off for falling behind has to read what is queued before it is dropped. */
const drainGraceMs = 5_000;

// One timer pings every open stream, so idle followers cost no timer each.
const pingers = new Set<() => void>();
let pingTimer: ReturnType<typeof setInterval> | undefined;
export function onPing(ping: () => void): () => void {
  pingers.add(ping);
  pingTimer ??= setInterval(() => pingers.forEach((p) => p()), pingMs);
  return () => {
    pingers.delete(ping);
    if (pingers.size === 0 && pingTimer !== undefined) {
      clearInterval(pingTimer);
      pingTimer = undefined;
    }
  };
}

/** Where a follower resumes: the Last-Event-ID header (what EventSource sends back), else `after`. */
export function resumeCursor(request: Request, after: string | undefined): Cursor {
  const header = request.headers.get("last-event-id");
  const text = header !== null && header !== "" ? header : after;
  if (text === undefined) return fromNow;
  const cursor = parseCursor(text);
  if (!cursor) {
    const which = text === header ? "Last-Event-ID" : "after";
    throw new HttpError(
      400,
      "invalid_request",
      `${which} must be an event id this stream sent (a revision, or <revision>.<stream>.<chunk>)`,
    );
  }
  return cursor;
}

/** The SSE text of one event. */
function frame(event: PlacedEvent): string {
  const id = formatCursor(event.position);
  if (event.kind === "chunk") {
    const data = {
      message_id: event.messageId,
      index: event.index,
      chunk: event.chunk,
      ...(event.index === 0 ? { continues: event.continues ?? null } : {}),
    };
    return `id: ${id}\nevent: chunk\ndata: ${JSON.stringify(data)}\n\n`;
  }
  return `id: ${id}\nevent: ${event.kind}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export function followStream({ follower, maxSeconds }: { follower: Follower; maxSeconds: number }) {
  let closed = false;
  let stopPing = () => {};
  let endTimer: ReturnType<typeof setTimeout> | undefined;
  const cleanup = () => {
    closed = true;
    stopPing();
    clearTimeout(endTimer);
    follower.stop();
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const send = (text: string) => {
          if (closed) return;
          controller.enqueue(encoder.encode(text));
          if ((controller.desiredSize ?? 0) < -maxBacklogBytes) {
            end("slow_consumer");
          }
        };
        const end = (reason: string) => {
          if (closed) return;
          const position = follower.position();
          const data = {
            reason,
            revision: Math.max(position.revision, 0),
            cursor: formatCursor(position),
          };
          cleanup();
          controller.enqueue(encoder.encode(`event: end\ndata: ${JSON.stringify(data)}\n\n`));
          controller.close();
          // A follower that stopped reading will not read its end either: what it left queued is
          // dropped (the connection is cut) once it has had time to drain.
          if (reason === "slow_consumer") setTimeout(() => controller.error(new Error("slow consumer")), drainGraceMs);
        };

        send("retry: 1000\n\n");
        stopPing = onPing(() => send(": ping\n\n"));
        endTimer = setTimeout(() => end("max_duration"), maxSeconds * 1000);
        follower.start(
          (event) => send(frame(event)),
          (reason) => end(reason),
        );
      },
      cancel() {
        cleanup();
      },
      // The backlog is counted in bytes, not in chunks: a follower that stops reading is cut off at
      // maxBacklogBytes, whatever the size of each event.
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  );
}
