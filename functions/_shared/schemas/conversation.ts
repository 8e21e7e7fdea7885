// Conversation control: edit-message, regenerate, respond-to-approval, and the queue
// (delete-queued-message, promote-queued-message).
import { z } from "zod";
import { id, text } from "./json.ts";
import { messageSummary, uiMessage } from "./messages.ts";
import { chatSummary } from "./reads.ts";
import { queuedMessageRow } from "./rows.ts";

/** Where a cut began: the history version from then on and the first seq that changed. */
const historyCut = z.strictObject({ history_version: z.int(), from_seq: z.int() });

export const editMessageRequest = z.strictObject({
  chat_id: id,
  /** The user message to edit. */
  message_id: id,
  /** Its new version: a user message with the same id. */
  message: uiMessage,
}).refine((body) => body.message.id === body.message_id, {
  message: "must be message_id: an edit keeps the message's id",
  path: ["message", "id"],
}).refine((body) => body.message.role === "user", {
  message: "must be user: only user messages are edited (regenerate an answer instead)",
  path: ["message", "role"],
});
export type EditMessageRequest = z.infer<typeof editMessageRequest>;

export const editMessageResponse = z.strictObject({
  chat: chatSummary,
  /** The message as it now reads (same id and seq). */
  message: messageSummary,
  /** false: the message already read so (a retry), and nothing was cut. */
  edited: z.boolean(),
  /** The cut, or null when nothing changed. */
  cut: historyCut.nullable(),
  /** The queued messages the cut dropped, so that a client can offer them again. */
  dropped_queue: z.array(queuedMessageRow),
});
export type EditMessageResponse = z.infer<typeof editMessageResponse>;

export const regenerateRequest = z.strictObject({
  chat_id: id,
  /** The user message to answer again, or the assistant message to replace; default: the last user message. */
  message_id: id.optional(),
});
export type RegenerateRequest = z.infer<typeof regenerateRequest>;

export const regenerateResponse = z.strictObject({
  chat: chatSummary,
  /** false: the assistant message named was already replaced (a retry). */
  regenerated: z.boolean(),
  cut: historyCut.nullable(),
  dropped_queue: z.array(queuedMessageRow),
});
export type RegenerateResponse = z.infer<typeof regenerateResponse>;

export const respondToApprovalRequest = z.strictObject({
  chat_id: id,
  /** The assistant message whose tool call asks for approval. */
  message_id: id,
  /** The part's approval.id. */
  approval_id: id,
  approved: z.boolean(),
  /** Shown to the model with the answer (the AI SDK's approval reason). */
  reason: text(2000).optional(),
});
export type RespondToApprovalRequest = z.infer<typeof respondToApprovalRequest>;

export const respondToApprovalResponse = z.strictObject({
  chat: chatSummary,
  message: messageSummary,
  /** false: this answer was already recorded (a retry). */
  answered: z.boolean(),
});
export type RespondToApprovalResponse = z.infer<typeof respondToApprovalResponse>;

export const queuedMessageRequest = z.strictObject({ chat_id: id, message_id: id });
export type QueuedMessageRequest = z.infer<typeof queuedMessageRequest>;

export const deleteQueuedMessageResponse = z.strictObject({
  chat: chatSummary,
  deleted: queuedMessageRow,
  /** The queue after the deletion, in order. */
  queued: z.array(queuedMessageRow),
});
export type DeleteQueuedMessageResponse = z.infer<typeof deleteQueuedMessageResponse>;

export const promoteQueuedMessageResponse = z.strictObject({
  chat: chatSummary,
  /** The queue, the promoted message first. */
  queued: z.array(queuedMessageRow),
});
export type PromoteQueuedMessageResponse = z.infer<typeof promoteQueuedMessageResponse>;
