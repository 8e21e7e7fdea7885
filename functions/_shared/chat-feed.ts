// The change feed behind follow-chat: ONE listening connection per function process, however many
// followers it serves. A trigger announces every new chat revision with
// pg_notify('chat_changes', {chat_id, revision}); the feed reads each new revision of a followed chat
// once (public.chat_changes, as the service role) and hands the result to every follower of that
// chat in memory. Notifications are only hints: a 1 s poll of the followed chats' revisions (one
// query per process) is the backstop for a missed notification or a connection that cannot LISTEN
// (Supabase's transaction pooler does not carry LISTEN).
//
// Hints are sent only for chats that some feed has registered as followed (public.follow_chats,
// migration 20261125170000): a chat is registered before its first follower's first read, so no
// change after that read goes unannounced, and the registration is renewed with every poll.
//
// A batch says which revision it was read after. A follower whose cursor is behind that (it joined
// while a read was in flight, or a notification raced its catch-up) sees the gap and reads the
// missing changes itself, so no follower ever depends on the timing of another.
import postgres from "postgres";
import type { Caller } from "./auth.ts";
import { rpc } from "./db.ts";
import type { ChatChanges } from "./schemas.ts";

export type { ChatChanges };

/** One read of a chat's changes: everything after `after`, possibly one page of several. */
export interface Batch {
  after: number;
  changes: ChatChanges;
}

type Listener = (batch: Batch) => void;

interface FollowedChat {
  listeners: Set<Listener>;
  /** Settles once the chat is registered as followed (or that failed: the poll still covers it). */
  registered: Promise<void>;
  /** The revision this process has read up to, once a follower told it where it stands. */
  revision?: number;
  /** The highest revision announced for this chat. */
  announced: number;
  reading: boolean;
}

const serviceRole: Caller = { role: "service_role", accountId: null, claims: { role: "service_role" } };
const pollMs = 1000;

export function readChanges(caller: Caller, chatId: string, after: number | null): Promise<ChatChanges> {
  return rpc(caller, "chat_changes", { chat_id: chatId, after_revision: after ?? undefined })
    .then(({ json }) => JSON.parse(json));
}

export class ChatFeed {
  private readonly chats = new Map<string, FollowedChat>();
  private listening?: postgres.Sql;
  private poller?: ReturnType<typeof setInterval>;

  constructor(private readonly listenUrl: string) {}

  /**
   * Starts delivering batches of `chatId` to `listener`. Await `registered` before the follower's
   * first read. Call `ready(cursor)` once the follower has caught up to `cursor`: it returns the
   * revision this process has already delivered, which may be ahead of the cursor (the follower
   * then reads the gap itself).
   */
  subscribe(chatId: string, listener: Listener) {
    this.start();
    let chat = this.chats.get(chatId);
    if (!chat) {
      chat = { listeners: new Set(), registered: this.register([chatId]), announced: 0, reading: false };
      this.chats.set(chatId, chat);
    }
    chat.listeners.add(listener);
    const followed = chat;
    return {
      registered: followed.registered,
      ready: (cursor: number): number => {
        followed.revision ??= cursor;
        if (followed.announced > followed.revision) void this.read(chatId);
        return followed.revision;
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
    this.listening = postgres(this.listenUrl, { max: 1, prepare: false, onnotice: () => {} });
    // postgres.js reconnects a lost listener by itself and calls onlisten again: poll then, since
    // notifications sent while it was away are gone.
    this.listening.listen("chat_changes", (payload) => this.announce(payload), () => void this.poll())
      .catch(() => {/* no LISTEN here (e.g. a transaction pooler): the poll alone keeps followers current */});
  }

  private announce(payload: string) {
    let hint: { chat_id?: unknown; revision?: unknown };
    try {
      hint = JSON.parse(payload);
    } catch {
      return;
    }
    const chat = typeof hint.chat_id === "string" ? this.chats.get(hint.chat_id) : undefined;
    if (!chat || typeof hint.revision !== "number") return;
    chat.announced = Math.max(chat.announced, hint.revision);
    if (chat.revision !== undefined && chat.announced > chat.revision) void this.read(hint.chat_id as string);
  }

  /** Registers the chats as followed, so that their changes are announced; never fails. */
  private register(chatIds: string[]): Promise<void> {
    return rpc(serviceRole, "follow_chats", { chat_ids: chatIds }).then(() => {}, () => {});
  }

  private async poll() {
    if (this.chats.size === 0) return;
    void this.register([...this.chats.keys()]);
    try {
      const { json } = await rpc(serviceRole, "chat_revisions", { chat_ids: [...this.chats.keys()] });
      for (const [chatId, revision] of Object.entries(JSON.parse(json) as Record<string, number>)) {
        const chat = this.chats.get(chatId);
        if (!chat) continue;
        chat.announced = Math.max(chat.announced, revision);
        if (chat.revision !== undefined && chat.announced > chat.revision) void this.read(chatId);
      }
    } catch {
      // The database is away: the next tick tries again, and followers keep their cursors.
    }
  }

  /** Reads a chat's changes after what this process has read, once, for all its followers. */
  private async read(chatId: string) {
    const chat = this.chats.get(chatId);
    if (!chat || chat.reading || chat.revision === undefined) return;
    chat.reading = true;
    try {
      while (chat.announced > chat.revision! && this.chats.get(chatId) === chat) {
        const after = chat.revision!;
        const changes = await readChanges(serviceRole, chatId, after);
        chat.revision = changes.has_more ? changes.messages.at(-1)!.revision : changes.chat.revision;
        chat.announced = Math.max(chat.announced, chat.revision);
        for (const listener of chat.listeners) listener({ after, changes });
      }
    } catch {
      // Leave `announced` ahead: the next notification or poll reads again.
    } finally {
      chat.reading = false;
    }
  }
}
