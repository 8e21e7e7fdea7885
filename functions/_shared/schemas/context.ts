// Context resources: push-context, pin-context, get-context.
import { z } from "zod";
import { id, storable, storableMessage, text } from "./json.ts";
import { at, type Row } from "./rows.ts";

/** Where a resource comes from, as the sandbox names it: AGENTS.md, .agents/skills/x/SKILL.md, ... */
const contextSource = text(1024).min(1);
/** Source names, by what happened to them: new here, changed, gone. */
const sourceChanges = z.strictObject({
  added: z.array(z.string()),
  updated: z.array(z.string()),
  removed: z.array(z.string()),
});

export const contextResource = z.strictObject({
  source: contextSource,
  kind: z.enum(["instructions", "skill", "file"]),
  /** No length rule here: a body over 2 MiB of UTF-8 is a 413 from the database, for the whole request. */
  body: z.string().refine(storable, storableMessage),
  /** ok (default), truncated (the sandbox kept only part of the file) or error (it could not be read). */
  status: z.enum(["ok", "truncated", "error"]).optional(),
});

export const pushContextRequest = z.strictObject({
  session_id: id,
  resources: z.array(contextResource).max(1000),
  /** true: the live view becomes exactly `resources` (sources not listed are removed). */
  replace: z.boolean().optional(),
});
export type PushContextRequest = z.infer<typeof pushContextRequest>;

export const pushContextResponse = sourceChanges.extend({ session_id: z.string() });
export type PushContextResponse = z.infer<typeof pushContextResponse>;

export const pinContextRequest = z.strictObject({
  chat_id: id,
  /** Only these sources; by default the whole live view. */
  sources: z.array(contextSource).min(1).max(1000).optional(),
});
export type PinContextRequest = z.infer<typeof pinContextRequest>;

export const pinContextResponse = sourceChanges.extend({ chat_id: z.string() });
export type PinContextResponse = z.infer<typeof pinContextResponse>;

export const getContextQuery = z.strictObject({ chat_id: id });

type PinnedRow = Row<"chat_context_resources">;

export const getContextResponse = z.strictObject({
  chat_id: z.string(),
  /** The chat's pins, by source, with their bodies: what the model sees in this chat. */
  resources: z.array(
    z.strictObject({
      source: z.string(),
      kind: z.string(),
      status: z.string(),
      body: z.string(),
      content_hash: z.string(),
      size_bytes: z.int(),
      pinned_at: at,
    }) satisfies z.ZodType<
      Pick<PinnedRow, "source" | "kind" | "status" | "body" | "content_hash" | "size_bytes" | "pinned_at">
    >,
  ),
  /** The live view compared with the pins (by content hash, kind and status): what a refresh would change. */
  changed: sourceChanges,
});
export type GetContextResponse = z.infer<typeof getContextResponse>;
