// The change feed behind follow-chat and the chat endpoint: ONE listening connection per function
// process, however many followers it serves. A hint announces every new chat revision and every new
// batch of chunks with pg_notify('chat_changes', {chat_id, revision, stream?, chunks?}); the feed
// reads what is new for a followed chat once (public.chat_changes, as the service role) and hands the
// result to every follower of that chat in memory. Hints only say "read now": a 1 s poll of the
// followed chats' positions (one query per process) is the backstop for a missed hint or a
// connection that cannot LISTEN (Supabase's transaction pooler does not carry LISTEN).
//
// Hints are sent only for chats that some feed has registered as followed (public.follow_chats,
// migration 20261125170000): a chat is registered before its first follower's first read, so no
// change after that read goes unannounced, and the registration is renewed with every poll.
//
// A batch says which position it was read from (chat-events.ts). A follower that does not hold
// everything up to there (it joined while a read was in flight, or a hint raced its catch-up) reads
// the gap itself, so no follower ever depends on the timing of another.
import postgres from "postgres";
import type { Caller } from "./auth.ts";
import { type Cursor, type Position, take } from "./chat-events.ts";
import { rpc } from "./db.ts";
import { HttpError } from "./http.ts";
import type { ChatChanges } from "./schemas/mod.ts";

export type { ChatChanges };

/** One read of a chat's changes from `after`, possibly one page of several. */
export interface Batch {
  after: Position;
  changes: ChatChanges;
}

/** A batch, or "gone": the chat was deleted. */
type Listener = (batch: Batch | "gone") => void;

/** What the latest hint or poll said a chat has: its revision and its latest stream's length. */
interface Announced {
  revision: number;
  stream?: number;
  chunks?: number;
}

interface FollowedChat {
  listeners: Set<Listener>;
  /** Settles once the chat is registered as followed (or that failed: the poll still covers it). */
  registered: Promise<void>;
  /** Where this process has read up to, once a follower told it where it stands. */
  position?: Position;
  announced: Announced;
  reading: boolean;
}

const serviceRole: Caller = {
  role: "service_role",
  accountId: null,
  claims: { role: "service_role" },
};
const pollMs = 1000;

export function readChanges(caller: Caller, chatId: string, from: Cursor): Promise<ChatChanges> {
  return rpc(caller, "chat_changes", {
    chat_id: chatId,
    after_revision: from.revision ?? undefined,
    after_stream: from.stream ?? undefined,
    after_chunk: from.chunk ?? undefined,
  }).then(({ json }) => JSON.parse(json));
}

/** True when `announced` has something `position` does not. */
function isAhead(announced: Announced, position: Position): boolean {
  if (announced.revision > position.revision) return true;
  if (announced.stream === undefined || announced.chunks === undefined) {
    return false;
  }
  const last = announced.chunks - 1;
  return announced.stream > position.stream || (announced.stream === position.stream && last > position.chunk);
}

/** The later of two announcements, field by field (hints may arrive out of order). */
function latest(a: Announced, b: Announced): Announced {
  const streamOf = (x: Announced) => [x.stream ?? -1, x.chunks ?? -1];
  const [[sa, ca], [sb, cb]] = [streamOf(a), streamOf(b)];
  const later = sb > sa || (sb === sa && cb > ca) ? b : a;
  return {
    revision: Math.max(a.revision, b.revision),
    stream: later.stream,
    chunks: later.chunks,
  };
}

export class ChatFeed {
  private readonly chats = new Map<string, FollowedChat>();
  private listening?: postgres.Sql;
  private poller?: ReturnType<typeof setInterval>;

  constructor(private readonly listenUrl: string) {}

  /**
   * Starts delivering batches of `chatId` to `listener`. Await `registered` before the follower's
   * first read. Call `ready(position)` once the follower has caught up to `position`: it returns the
   * position this process has already delivered, which may be ahead (the follower then reads the gap
   * itself).
   */
  subscribe(chatId: string, listener: Listener) {
    this.start();
    let chat = this.chats.get(chatId);
    if (!chat) {
      // Registered, then asked once where it stands: a change between the follower's first read and
      // the registration was not announced.
      const registered = this.register([chatId]).then(() => this.poll([chatId]));
      chat = { listeners: new Set(), registered, announced: { revision: 0 }, reading: false };
      this.chats.set(chatId, chat);
    }
    chat.listeners.add(listener);
    const followed = chat;
    return {
      registered: followed.registered,
      ready: (position: Position): Position => {
        followed.position ??= { ...position };
        if (isAhead(followed.announced, followed.position)) {
          void this.read(chatId);
        }
        return followed.position;
      },
      unsubscribe: () => {
        followed.listeners.delete(listener);
        if (followed.listeners.size === 0 && this.chats.get(chatId) === followed) this.chats.delete(chatId);
      },
    };
  }

  get followedChats(): number {
    return this.chats.size;
  }

  private start() {
    if (this.poller) return;
    this.poller = setInterval(() => void this.poll(), pollMs);
    this.listening = postgres(this.listenUrl, {
      max: 1,
      prepare: false,
      onnotice: () => {},
    });
    // postgres.js reconnects a lost listener by itself and calls onlisten again: poll then, since
    // notifications sent while it was away are gone.
    this.listening
      .listen(
        "chat_changes",
        (payload) => this.announce(payload),
        () => void this.poll(),
      )
      .catch(() => {
        /* no LISTEN here (e.g. a transaction pooler): the poll alone keeps followers current */
      });
  }

  private announce(payload: string) {
    let hint: {
      chat_id?: unknown;
      revision?: unknown;
      stream?: unknown;
      chunks?: unknown;
    };
    try {
      hint = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof hint.chat_id !== "string" || typeof hint.revision !== "number") {
      return;
    }
    this.heard(hint.chat_id, {
      revision: hint.revision,
      stream: typeof hint.stream === "number" ? hint.stream : undefined,
      chunks: typeof hint.chunks === "number" ? hint.chunks : undefined,
    });
  }

  /** Notes what a hint or the poll said of a chat, and reads if this process is behind it. */
  private heard(chatId: string, announced: Announced) {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    chat.announced = latest(chat.announced, announced);
    if (chat.position && isAhead(announced, chat.position)) {
      void this.read(chatId);
    }
  }

  /** Registers the chats as followed, so that their changes are announced; never fails. */
  private register(chatIds: string[]): Promise<void> {
    return rpc(serviceRole, "follow_chats", { chat_ids: chatIds }).then(
      () => {},
      () => {},
    );
  }

  /** Where the followed chats stand (all of them, every second; or the named ones): reads what is new. */
  private async poll(chatIds?: string[]) {
    const asked = chatIds ?? [...this.chats.keys()];
    if (asked.length === 0) return;
    if (!chatIds) void this.register(asked);
    try {
      const { json } = await rpc(serviceRole, "chat_positions", { chat_ids: asked });
      const positions = JSON.parse(json) as Record<string, { revision: number; stream: number; chunks: number }>;
      for (const chatId of asked) {
        const at = positions[chatId];
        if (!at) this.gone(chatId);
        else {this.heard(chatId, {
            revision: at.revision,
            stream: at.stream ?? undefined,
            chunks: at.chunks ?? undefined,
          });}
      }
    } catch {
      // The database is away: the next tick tries again, and followers keep their positions.
    }
  }

  /** The chat was deleted: its followers end, and it is no longer followed. */
  private gone(chatId: string) {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    this.chats.delete(chatId);
    for (const listener of chat.listeners) listener("gone");
  }

  /** Reads a chat's changes after what this process has read, once, for all its followers. */
  private async read(chatId: string) {
    const chat = this.chats.get(chatId);
    if (!chat || chat.reading || chat.position === undefined) return;
    chat.reading = true;
    try {
      let more = false;
      while ((more || isAhead(chat.announced, chat.position!)) && this.chats.get(chatId) === chat) {
        const after: Position = chat.position!;
        const changes = await readChanges(serviceRole, chatId, after);
        chat.position = take(changes, after).position;
        for (const listener of chat.listeners) listener({ after, changes });
        // A short page: read on at once, whatever the hints said.
        more = changes.has_more || changes.chunks_more;
      }
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) this.gone(chatId);
      // Otherwise leave `announced` ahead: the next hint or poll reads again.
    } finally {
      chat.reading = false;
    }
  }
}
