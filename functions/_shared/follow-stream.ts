// One follower's event stream (text/event-stream): catch-up from its cursor, then live batches from
// the process's ChatFeed, in revision order, each change once. The format is documented in the
// README ("follow-chat"); in short:
//
//   retry: 1000                      once, first
//   id: <revision>                   a message changed at that revision, at its latest state
//   event: message
//   data: {id, role, seq, revision, created_at, updated_at, message}
//
//   id: <revision>                   the chat after every revision up to this one: always after the
//   event: chat                      catch-up, then after each live batch
//   data: {id, title, ..., revision, has_unread, ...}
//
//   : ping                           every 15 s
//   event: end                       no id; then the stream closes: reconnect from `revision`
//   data: {"reason": "max_duration", "revision": N}
//                                    after FOLLOW_MAX_SECONDS; the reason is "slow_consumer" for a
//                                    follower over 4 MiB behind, "error" for a failed read
//
// Resuming: a client that reconnects with the last id it saw (Last-Event-ID, as EventSource does by
// itself) receives every later change, none twice. Message events of one revision come before its
// chat event, and a message change always has a revision of its own, so a cut anywhere loses nothing.
import type { Caller } from "./auth.ts";
import { type Batch, type ChatChanges, type ChatFeed, readChanges } from "./chat-feed.ts";
import { HttpError } from "./http.ts";

const encoder = new TextEncoder();
const pingMs = 15_000;
/** Queued bytes a follower may fall behind by before it is cut off (it reconnects and catches up). */
const maxBacklogBytes = 4 << 20;

// One timer pings every open stream, so idle followers cost no timer each.
const pingers = new Set<() => void>();
let pingTimer: ReturnType<typeof setInterval> | undefined;
function onPing(ping: () => void): () => void {
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

/** The Last-Event-ID header (what EventSource sends when it reconnects), as a revision. */
export function lastEventId(request: Request): number | undefined {
  const header = request.headers.get("last-event-id");
  if (header === null || header === "") return undefined;
  if (!/^\d{1,15}$/.test(header)) {
    throw new HttpError(400, "invalid_request", "Last-Event-ID must be a revision (a whole number) this stream sent");
  }
  return Number(header);
}

export interface FollowOptions {
  caller: Caller;
  chatId: string;
  feed: ChatFeed;
  /** The first page of the catch-up, read before the response started (so its errors are JSON). */
  firstPage: ChatChanges;
  /** The revision the client already has; null when it follows from the current state. */
  cursor: number | null;
  maxSeconds: number;
  subscription: ReturnType<ChatFeed["subscribe"]>;
  queue: Batch[];
}

/** Subscribes before the catch-up read, so that no batch delivered meanwhile is lost. */
export function subscribeBuffered(feed: ChatFeed, chatId: string) {
  const queue: Batch[] = [];
  let wake = () => {};
  const subscription = feed.subscribe(chatId, (batch) => {
    queue.push(batch);
    wake();
  });
  return { queue, subscription, onBatch: (fn: () => void) => (wake = fn) };
}

export function followStream(
  options: FollowOptions & { onBatch: (fn: () => void) => void },
): ReadableStream<Uint8Array> {
  const { caller, chatId, firstPage, maxSeconds, subscription, queue, onBatch } = options;
  let cursor = options.cursor ?? -1;
  /** The revision of the last chat event sent. */
  let chatSent = -1;
  let closed = false;
  let stopPing = () => {};
  let endTimer: ReturnType<typeof setTimeout> | undefined;

  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        if (closed) return;
        controller.enqueue(encoder.encode(text));
        if ((controller.desiredSize ?? 0) < -maxBacklogBytes) end("slow_consumer");
      };
      const end = (reason: string) => {
        if (closed) return;
        send(`event: end\ndata: ${JSON.stringify({ reason, revision: Math.max(cursor, 0) })}\n\n`);
        closed = true;
        cleanup();
        controller.close();
      };

      /** Sends a page of changes: its messages beyond the cursor, then (on a last page) the chat. */
      const emit = (changes: ChatChanges, lastPage: boolean, chatAlways: boolean) => {
        for (const message of changes.messages) {
          if (message.revision <= cursor) continue;
          send(`id: ${message.revision}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`);
          cursor = message.revision;
        }
        if (!lastPage) return;
        if (chatAlways || changes.chat.revision > chatSent) {
          send(`id: ${changes.chat.revision}\nevent: chat\ndata: ${JSON.stringify(changes.chat)}\n\n`);
          chatSent = changes.chat.revision;
        }
        cursor = Math.max(cursor, changes.chat.revision);
      };

      /** Reads everything after the cursor as the follower itself, page by page. */
      const catchUp = async (page: ChatChanges | undefined, chatAlways: boolean) => {
        for (;;) {
          page ??= await readChanges(caller, chatId, cursor);
          emit(page, !page.has_more, chatAlways);
          if (!page.has_more) return;
          page = undefined;
        }
      };

      let pumping = false;
      const pump = async () => {
        if (pumping || closed) return;
        pumping = true;
        try {
          while (queue.length && !closed) {
            const batch = queue.shift()!;
            // A batch read after a revision we do not have: read the gap (and the batch) ourselves.
            if (batch.after > cursor) await catchUp(undefined, false);
            else emit(batch.changes, !batch.changes.has_more, false);
          }
        } catch {
          end("error");
        } finally {
          pumping = false;
        }
      };

      const run = async () => {
        send("retry: 1000\n\n");
        try {
          await catchUp(firstPage, true);
          if (subscription.ready(cursor) > cursor) await catchUp(undefined, false);
        } catch {
          return end("error");
        }
        onBatch(() => void pump());
        await pump();
      };

      stopPing = onPing(() => send(": ping\n\n"));
      endTimer = setTimeout(() => end("max_duration"), maxSeconds * 1000);
      void run();
    },
    cancel() {
      closed = true;
      cleanup();
    },
  });

  function cleanup() {
    stopPing();
    clearTimeout(endTimer);
    subscription.unsubscribe();
  }
}
