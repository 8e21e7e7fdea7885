// create-chat and archive-chat.
import { z } from "zod";
import { explain } from "../validation.ts";
import { id, json, text, uuid } from "./json.ts";
import { chatSummary } from "./reads.ts";
import { chatRow, sessionRow } from "./rows.ts";

const chatFields = z.strictObject({
  id: id.optional(),
  title: text(500).min(1).optional(),
  model_id: text(255).optional(),
});

/** A chat in an existing session the caller owns. */
export const createChatInSessionRequest = chatFields.extend({ session_id: id });

/** A new session and its first chat, in one transaction. */
export const createSessionWithChatRequest = z.strictObject({
  session: z.strictObject({
    id: id.optional(),
    title: text(500).min(1),
    repo_owner: text(255).optional(),
    repo_name: text(255).optional(),
    branch: text(255).optional(),
    clone_url: text(2048).optional(),
    is_new_branch: z.boolean().optional(),
    auto_commit_push_override: z.boolean().nullable().optional(),
    global_skill_refs: z.array(json).max(1000).optional(),
    sandbox_state: z.record(z.string(), json).optional(),
  }),
  chat: chatFields.optional(),
  /** Service role only: the account that will own the session. */
  account_id: uuid.optional(),
});

export type CreateChatRequest =
  | z.infer<typeof createSessionWithChatRequest>
  | z.infer<typeof createChatInSessionRequest>;

/** One of the two shapes, chosen by which of `session` and `session_id` the body has: exactly one. */
export const createChatRequest = z.unknown().transform((body, ctx): CreateChatRequest => {
  const fields = body !== null && typeof body === "object" && !Array.isArray(body) ? body : {};
  const [newSession, existingSession] = ["session" in fields, "session_id" in fields];
  if (newSession === existingSession) {
    ctx.issues.push({
      code: "custom",
      input: body,
      message: newSession
        ? "has both session_id and session: send session_id for a chat in an existing session, or session for a " +
          "new session with its first chat, not both"
        : "needs session_id (a chat in an existing session you own) or session (a new session with its first chat)",
    });
    return z.NEVER;
  }
  const parsed = (newSession ? createSessionWithChatRequest : createChatInSessionRequest).safeParse(body, {
    error: explain,
  });
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, code: "custom", input: body });
  return z.NEVER;
});

export const createChatResponse = z.strictObject({
  chat: chatRow,
  session: sessionRow.optional(),
  /** false when this was a retry of an earlier call (status 200 instead of 201). */
  created: z.boolean(),
});
export type CreateChatResponse = z.infer<typeof createChatResponse>;
// ---------------------------------------------------------------------------------------------
// archive-chat
// ---------------------------------------------------------------------------------------------

export const archiveChatRequest = z.strictObject({ chat_id: id, archived: z.boolean() });
export type ArchiveChatRequest = z.infer<typeof archiveChatRequest>;

export const archiveChatResponse = z.strictObject({ chat: chatSummary });
export type ArchiveChatResponse = z.infer<typeof archiveChatResponse>;
