// append-message: the AI SDK UIMessage as stored, and a message as every read returns it.
import { z } from "zod";
import { id, json, refineJson, text } from "./json.ts";
import { queuedMessageRow } from "./rows.ts";

/** An AI SDK UIMessage. Stored whole, so unknown keys are kept, not stripped. */
export const uiMessage = z.looseObject({
  id,
  role: z.enum(["user", "assistant"]),
  parts: z.array(z.looseObject({ type: text(255) })).max(10_000),
  metadata: json.optional(),
}).superRefine(refineJson);

/** A message as every read and append-message return it (private.message_summary in SQL). */
export const messageSummary = z.strictObject({
  id: z.string(),
  role: z.enum(["user", "assistant"]),
  seq: z.number().int(),
  revision: z.number().int(),
  /** owner: the chat's owner wrote it; backend: the service role (the agent's worker, or the app's server). */
  written_by: z.enum(["owner", "backend"]),
  created_at: z.string(),
  updated_at: z.string(),
  /** The UIMessage exactly as it was appended. */
  message: uiMessage,
});
export type MessageSummary = z.infer<typeof messageSummary>;

export const appendMessageRequest = z.strictObject({
  chat_id: id,
  message: uiMessage,
  /** A worker's name: then the chat must be held by it (409 not_held otherwise). */
  runner_id: id.optional(),
  /** A user message to a busy chat: stop the agent's turn and answer this message next, instead of queueing it last. */
  interrupt: z.boolean().optional(),
});
export type AppendMessageRequest = z.infer<typeof appendMessageRequest>;
export type UIMessage = AppendMessageRequest["message"];

export const appendMessageResponse = z.union([
  z.strictObject({
    /** The message as every read shows it; `seq` is its place in the chat. */
    message: messageSummary,
    /** false for a retried user message (status 200) and for a rewritten assistant message. */
    created: z.boolean(),
  }),
  /** 202: a user message to a running or stopping chat waits until the agent's turn ends. */
  z.strictObject({
    queued: z.literal(true),
    /** Its place in the chat's queue, 1..20. */
    position: z.int(),
    message: queuedMessageRow,
    /** false for a retry of a message already queued. */
    created: z.boolean(),
  }),
]);
export type AppendMessageResponse = z.infer<typeof appendMessageResponse>;
