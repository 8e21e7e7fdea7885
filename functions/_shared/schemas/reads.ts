// Reads: list-sessions, list-chats, get-messages, follow-chat (GET, query-string parameters), and the
// read marker (mark-read).
import { z } from "zod";
import { id, queryInteger, timestamp, uuid } from "./json.ts";
import { messageSummary, uiMessage } from "./messages.ts";
import { chatStatus, queuedMessageRow, sessionRow } from "./rows.ts";
import { usageTotals } from "./usage.ts";

const count = (min: number) => queryInteger(min, Number.MAX_SAFE_INTEGER);
const pageLimit = queryInteger(1, 200);
/** A list cursor: opaque to clients, decoded (and refused if foreign) by the database. */
const pageCursor = z.string().min(1).max(2000).regex(/^[A-Za-z0-9_-]+$/, "must be a next_cursor this API returned");

export const listSessionsQuery = z.strictObject({
  limit: pageLimit.optional(),
  cursor: pageCursor.optional(),
  /** Service role only (and required for it): whose sessions. */
  account_id: uuid.optional(),
});

export const listChatsQuery = listSessionsQuery.extend({
  session_id: id.optional(),
  /** true (or 1, yes, on): archived chats too. By default they are left out. */
  include_archived: z.stringbool().optional(),
});

export const getMessagesQuery = z.strictObject({
  chat_id: id,
  after_seq: count(0).optional(),
  before_seq: count(1).optional(),
  limit: pageLimit.optional(),
  /** An earlier version of the history (0 up to the chat's history_version); default: the visible one. */
  history_version: queryInteger(0, 2_147_483_647).optional(),
}).refine((query) => query.after_seq === undefined || query.before_seq === undefined, {
  message: "cannot be sent with after_seq: page forward (after_seq) or back (before_seq), not both",
  path: ["before_seq"],
});

export const followChatQuery = z.strictObject({
  chat_id: id,
  /** The last event id the client has (a revision, or <revision>.<stream>.<chunk>); Last-Event-ID wins. */
  after: z.string().max(60).optional(),
  /** For the browser's EventSource, which cannot send an Authorization header. */
  access_token: z.string().max(8192).optional(),
});

/** A chat as every read returns it (private.chat_summary in SQL). */
export const chatSummary = z.strictObject({
  id: z.string(),
  session_id: z.string(),
  title: z.string(),
  model_id: z.string().nullable(),
  /** Run control: idle, pending, running, stopping, waiting (for the user's approval of a tool call) or error
   * (last_error says why). */
  status: chatStatus,
  last_error: z.string().nullable(),
  status_changed_at: z.string(),
  /** The workflow run holding the chat while it is running or stopping. */
  active_stream_id: z.string().nullable(),
  revision: z.number().int(),
  /** How many times the visible history was cut (edit-message, regenerate); earlier versions stay readable. */
  history_version: z.number().int(),
  last_message_seq: z.number().int(),
  last_assistant_message_at: z.string().nullable(),
  last_read_at: z.string().nullable(),
  has_unread: z.boolean(),
  /** The chat's usage totals; null before its first recorded step. */
  usage: usageTotals.nullable(),
  /** When the owner archived the chat; null while it is not archived. */
  archived_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type ChatSummary = z.infer<typeof chatSummary>;

const nextCursor = z.string().nullable();

export const listSessionsResponse = z.strictObject({
  sessions: z.array(
    sessionRow.extend({
      chat_count: z.int(),
      has_unread: z.boolean(),
      has_streaming: z.boolean(),
    }),
  ),
  next_cursor: nextCursor,
});
export type ListSessionsResponse = z.infer<typeof listSessionsResponse>;

export const listChatsResponse = z.strictObject({ chats: z.array(chatSummary), next_cursor: nextCursor });
export type ListChatsResponse = z.infer<typeof listChatsResponse>;

export const getMessagesResponse = z.strictObject({
  chat: chatSummary,
  messages: z.array(messageSummary),
  /** More messages exist beyond this page in its direction. */
  has_more: z.boolean(),
  /** The version of the history the page is from. */
  history_version: z.int(),
  /** The user messages waiting for the agent's turn to end, in the order they will be answered. */
  queued: z.array(queuedMessageRow),
  /**
   * The reply being generated (its turn holds the chat), and the stored message it continues (an answer
   * going on after a tool approval) or null. A client that resumes the reply's stream from its start
   * shows this message as `continues` (or not at all), not as stored after its last step.
   */
  in_flight: z.strictObject({ message_id: z.string(), continues: uiMessage.nullable() }).nullable(),
});
export type GetMessagesResponse = z.infer<typeof getMessagesResponse>;
// ---------------------------------------------------------------------------------------------
// mark-read
// ---------------------------------------------------------------------------------------------

export const markReadRequest = z.strictObject({
  chat_id: id,
  /** Default: now. Never moves the marker back; clamped to now. */
  read_at: timestamp.optional(),
  /** Service role only: whose marker to move. */
  account_id: uuid.optional(),
});
export type MarkReadRequest = z.infer<typeof markReadRequest>;

export const markReadResponse = z.strictObject({
  chat_id: z.string(),
  account_id: z.string(),
  last_read_at: z.string(),
});
export type MarkReadResponse = z.infer<typeof markReadResponse>;
