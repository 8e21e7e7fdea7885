// One follower of a chat, whatever it writes to (follow-chat's event stream, the chat endpoint's UI
// message stream): catch-up from its cursor, then live batches from the process's ChatFeed, every
// event once and in order (chat-events.ts), reading a gap itself when a batch starts after what it
// has. A follower ends when its chat is deleted or moves to another account ("gone"); an account
// holds at most FOLLOW_MAX_STREAMS_PER_ACCOUNT followers in one function process.
import type { Caller } from "./auth.ts";
import { type Batch, type ChatFeed, readChanges } from "./chat-feed.ts";
import { covers, type Cursor, type PlacedEvent, type Position, startOf, take } from "./chat-events.ts";
import { config } from "./config.ts";
import { HttpError } from "./http.ts";
import type { ChatChanges } from "./schemas/mod.ts";

/** Why a follower stopped by itself: a read failed, or its chat is no longer the caller's to see. */
export type FollowerEnd = "error" | "gone";

export interface Follower {
  /** The first page, read before any response started (so its errors are JSON). */
  readonly firstPage: ChatChanges;
  /**
   * Starts delivering events. The first chat event always goes out; later ones only when the chat took
   * a newer revision. A queue event goes out when the queue differs from the one last sent (at first:
   * empty). `ended` is called once if the follower stops by itself; nothing is
   * delivered after it.
   */
  start(deliver: (event: PlacedEvent) => void, ended: (reason: FollowerEnd) => void): void;
  position(): Position;
  /** Stops delivering and leaves the feed. */
  stop(): void;
}

/** Open followers per account in this process (service-role followers are not counted). */
const openPerAccount = new Map<string, number>();

function admit(caller: Caller): () => void {
  const account = caller.accountId;
  if (account === null) return () => {};
  const open = openPerAccount.get(account) ?? 0;
  if (open >= config.followMaxStreamsPerAccount) {
    throw new HttpError(
      429,
      "too_many_streams",
      `this account already has ${open} open streams here (at most ${config.followMaxStreamsPerAccount}): close one`,
      undefined,
      { "Retry-After": "5" },
    );
  }
  openPerAccount.set(account, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (openPerAccount.get(account) ?? 1) - 1;
    if (left > 0) openPerAccount.set(account, left);
    else openPerAccount.delete(account);
  };
}

const isGone = (error: unknown) => error instanceof HttpError && error.status === 404;

/**
 * The first read comes first, as the caller: a chat that is not theirs is a 404 before anything else
 * happens (in particular before the process registers the chat as followed). Then the subscription,
 * and a batch delivered between the two is read again by the gap rule.
 */
export async function openFollower(
  { caller, chatId, feed, cursor }: { caller: Caller; chatId: string; feed: ChatFeed; cursor: Cursor },
): Promise<Follower> {
  const release = admit(caller);
  let firstPage: ChatChanges;
  try {
    firstPage = await readChanges(caller, chatId, cursor);
  } catch (error) {
    release();
    throw error;
  }
  const queue: (Batch | "gone")[] = [];
  let wake = () => {};
  const subscription = feed.subscribe(chatId, (batch) => {
    queue.push(batch);
    wake();
  });

  let position = startOf(cursor, firstPage);
  let stopped = false;
  let chatSent = -1;
  /** The queue as this follower last saw it: a queue event goes out only when it changed (none while empty). */
  let queueSent = "[]";
  let deliver: (event: PlacedEvent) => void = () => {};
  const stop = () => {
    stopped = true;
    subscription.unsubscribe();
    release();
  };
  /** The chat moved to another account: what the service-role feed read is not this caller's to see. */
  const notTheirs = (page: ChatChanges) => caller.accountId !== null && page.account_id !== caller.accountId;

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
      if (event.kind === "queue") {
        const queue = JSON.stringify(event.data.queued);
        if (queue === queueSent) continue;
        queueSent = queue;
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

  return {
    firstPage,
    position: () => position,
    stop,
    start(onEvent, ended) {
      deliver = onEvent;
      let pumping = false;
      const end = (reason: FollowerEnd) => {
        if (stopped) return;
        stop();
        ended(reason);
      };
      const failed = (error: unknown) => end(isGone(error) ? "gone" : "error");
      const pump = async () => {
        if (pumping || stopped) return;
        pumping = true;
        try {
          while (queue.length && !stopped) {
            const batch = queue.shift()!;
            if (batch === "gone" || notTheirs(batch.changes)) return end("gone");
            // A batch read from a place we have not reached: read the gap (and the batch) ourselves.
            if (covers(position, batch.after)) apply(batch.changes);
            else await catchUp();
          }
        } catch (error) {
          failed(error);
        } finally {
          pumping = false;
        }
      };
      void (async () => {
        try {
          await catchUp(firstPage);
          await subscription.registered;
          if (!covers(position, subscription.ready(position))) await catchUp();
        } catch (error) {
          return failed(error);
        }
        wake = () => void pump();
        await pump();
      })();
    },
  };
}
