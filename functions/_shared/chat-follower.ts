// One follower of a chat, whatever it writes to (follow-chat's event stream, the chat endpoint's UI
// message stream): catch-up from its cursor, then live batches from the process's ChatFeed, every
// event once and in order (chat-events.ts), reading a gap itself when a batch starts after what it
// has.
import type { Caller } from "./auth.ts";
import { type Batch, type ChatFeed, readChanges } from "./chat-feed.ts";
import { covers, type Cursor, type PlacedEvent, type Position, startOf, take } from "./chat-events.ts";
import type { ChatChanges } from "./stream-schemas.ts";

export interface Follower {
  /** The first page, read before any response started (so its errors are JSON). */
  readonly firstPage: ChatChanges;
  /**
   * Starts delivering events. The first chat event always goes out; later ones only when the chat
   * took a newer revision. `failed` is called once if a read fails; nothing is delivered after it.
   */
  start(deliver: (event: PlacedEvent) => void, failed: () => void): void;
  position(): Position;
  /** Stops delivering and leaves the feed. */
  stop(): void;
}

/** Subscribes before the first read, so that no batch delivered meanwhile is lost. */
export async function openFollower({
  caller,
  chatId,
  feed,
  cursor,
}: {
  caller: Caller;
  chatId: string;
  feed: ChatFeed;
  cursor: Cursor;
}): Promise<Follower> {
  const queue: Batch[] = [];
  let wake = () => {};
  const subscription = feed.subscribe(chatId, (batch) => {
    queue.push(batch);
    wake();
  });
  await subscription.registered;
  const firstPage = await readChanges(caller, chatId, cursor).catch((error) => {
    subscription.unsubscribe();
    throw error;
  });

  let position = startOf(cursor, firstPage);
  let stopped = false;
  let chatSent = -1;
  let deliver: (event: PlacedEvent) => void = () => {};

  /** Delivers a page's new events; true when it was the last page of a read. */
  const apply = (page: ChatChanges): boolean => {
    const taken = take(page, position);
    position = taken.position;
    for (const event of taken.events) {
      if (stopped) break;
      if (event.kind === "chat") {
        if (event.revision <= chatSent) continue;
        chatSent = event.revision;
      }
      deliver(event);
    }
    return !page.has_more && !page.chunks_more;
  };

  /** Reads everything after the position as the follower itself, page by page. */
  const catchUp = async (page?: ChatChanges) => {
    while (!stopped) {
      page ??= await readChanges(caller, chatId, position);
      if (apply(page)) return;
      page = undefined;
    }
  };

  const stop = () => {
    stopped = true;
    subscription.unsubscribe();
  };

  return {
    firstPage,
    position: () => position,
    stop,
    start(onEvent, failed) {
      deliver = onEvent;
      let pumping = false;
      const fail = () => {
        if (stopped) return;
        stop();
        failed();
      };
      const pump = async () => {
        if (pumping || stopped) return;
        pumping = true;
        try {
          while (queue.length && !stopped) {
            const batch = queue.shift()!;
            // A batch read from a place we have not reached: read the gap (and the batch) ourselves.
            if (covers(position, batch.after)) apply(batch.changes);
            else await catchUp();
          }
        } catch {
          fail();
        } finally {
          pumping = false;
        }
      };
      void (async () => {
        try {
          await catchUp(firstPage);
          if (!covers(position, subscription.ready(position))) await catchUp();
        } catch {
          return fail();
        }
        wake = () => void pump();
        await pump();
      })();
    },
  };
}
