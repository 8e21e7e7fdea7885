// Request and response bodies of the live-stream functions: append-chunks (the worker), and the
// chat endpoint that the AI SDK's DefaultChatTransport talks to.
import { z } from "zod";
import { id, refineJson } from "./json.ts";
import { uiMessage } from "./messages.ts";
import { getMessagesResponse } from "./reads.ts";
import { explain } from "../validation.ts";
import { type UIMessageChunk, uiMessageChunk } from "../ui-message-chunk.ts";

export type { UIMessageChunk };

// ---------------------------------------------------------------------------------------------
// append-chunks (service role)
// ---------------------------------------------------------------------------------------------

export const appendChunksRequest = z.strictObject({
  chat_id: id,
  /** The worker holding the chat: only it may append. */
  runner_id: id,
  /** The assistant message the chunks build (the start chunk's messageId). */
  message_id: id,
  /** The index of the first chunk of this batch in the message's stream. */
  from: z.int().min(0).max(1_000_000),
  chunks: z.array(uiMessageChunk.superRefine(refineJson)).min(1).max(500),
});
export type AppendChunksRequest = z.infer<typeof appendChunksRequest>;

export const appendChunksResponse = z.strictObject({
  /** Where the next batch starts. */
  next: z.int(),
  /** The user asked to stop: abort the turn now. */
  stop: z.boolean(),
});
export type AppendChunksResponse = z.infer<typeof appendChunksResponse>;

// ---------------------------------------------------------------------------------------------
// chat: POST /chat (DefaultChatTransport's sendMessages), GET /chat/<chat_id>/stream (reconnect)
// ---------------------------------------------------------------------------------------------

/**
 * What DefaultChatTransport posts: the chat's id, its messages (all of them, or only the last when
 * the client sends less with prepareSendMessagesRequest), the trigger and the message it concerns.
 * Other keys a client adds through the transport's `body` are ignored. What it asks for:
 *
 * - submit-message, the last message a new user message: append it (queued while the agent works);
 * - submit-message with messageId naming that user message, already sent: an edit of it (useChat's
 *   sendMessage({ messageId }));
 * - submit-message, the last message the agent's, with tool approvals answered (useChat's
 *   addToolApprovalResponse and sendAutomaticallyWhen): record the answers; nothing else may change;
 * - regenerate-message, with messageId the assistant message to replace (or none: the last answer).
 */
export const chatRequest = z
  .looseObject({
    id,
    /** Only the last one is read (the message sent); the rest is the client's copy of the history. */
    messages: z.array(z.unknown()).min(1).max(100_000),
    trigger: z.enum(["submit-message", "regenerate-message"]),
    messageId: id.optional(),
    /** A new user message to a busy chat stops the agent's turn and is answered next (useChat: `sendMessage(message,
     * { body: { interrupt: true } })`), as append-message's interrupt. */
    interrupt: z.boolean().optional(),
  })
  .superRefine((body, ctx) => {
    const last = body.messages.length - 1;
    if (body.trigger === "regenerate-message") return; // the client's copy of the history: not read
    const parsed = uiMessage.safeParse(body.messages[last], { error: explain });
    for (const issue of parsed.error?.issues ?? []) {
      ctx.addIssue({
        code: "custom",
        message: issue.message,
        path: ["messages", last, ...issue.path],
      });
    }
  });
export type ChatRequest = z.infer<typeof chatRequest>;

export const chatStreamQuery = z.strictObject({ chat_id: id });
/** The transport's reconnect URL: <api>/<chat id>/stream. */
export const chatStreamPath = /^\/functions\/v1\/chat\/(?<chat_id>[^/]+)\/stream$/;

// ---------------------------------------------------------------------------------------------
// What follow-chat and the chat endpoint read (public.chat_changes)
// ---------------------------------------------------------------------------------------------

/** A stream of the chat, as chat_changes lists it. */
export const streamSummary = z.strictObject({
  message_id: z.string(),
  /** The revision the stream opened at: its name in a follower's position. */
  stream: z.int(),
  run_id: z.string(),
  /** How many chunks it has. */
  chunks: z.int(),
  /** Ended by a finish or abort chunk. */
  closed: z.boolean(),
  /** Its run still holds the chat: the turn is not over (its final message may not be stored yet). */
  in_flight: z.boolean(),
  /** The stored message this stream continues (an answer going on after a tool approval), as it was when the
   * stream opened: the chunks add to it. null: a new message. */
  continues: uiMessage.nullable(),
});
export type StreamSummary = z.infer<typeof streamSummary>;

export const chunkBatch = z.strictObject({
  message_id: z.string(),
  stream: z.int(),
  /** The index of chunks[0] in its stream. */
  from: z.int(),
  /** The chat revision that was current when the batch was written. */
  at_revision: z.int(),
  chunks: z.array(z.unknown()),
});

/** A cut of the history (edit-message, regenerate): from from_seq on, the messages changed. */
export const historyReset = z.strictObject({
  /** The chat's history version from this cut on. */
  history_version: z.int(),
  /** The first seq that changed: a follower drops what it holds from there. */
  from_seq: z.int(),
  /** The chat revision the cut took: its place among the chat's changes. */
  revision: z.int(),
});
export type HistoryReset = z.infer<typeof historyReset>;

/** The messages changed after a revision, the chat, and the chunks of its streams after a position. */
export const chatChanges = getMessagesResponse.omit({ history_version: true, in_flight: true }).extend({
  /** The chat's owner: a follow process reads as the service role, and ends followers it no longer belongs to. */
  account_id: z.string(),
  /** The stream position the read started from: [stream, chunk]. */
  position: z.tuple([z.int(), z.int()]),
  /** The cuts of the history after the revision, in order: a reset each. */
  resets: z.array(historyReset),
  streams: z.array(streamSummary),
  chunks: z.array(chunkBatch),
  /** More chunks exist after the last batch. */
  chunks_more: z.boolean(),
});
export type ChatChanges = z.infer<typeof chatChanges>;
