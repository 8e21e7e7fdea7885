// One chunk of the AI SDK's UI message stream (`streamText(...).toUIMessageStream()`), the wire format
// the agent's output is stored and served in. It mirrors the union the AI SDK itself parses
// (`uiMessageChunkSchema` in ai 6, src/ui-message-stream/ui-message-chunks.ts): the same types, the
// same required and optional fields, the same nested schemas. One difference: every object is strict.
// The SDK 6 parser lets unknown keys through, but AI SDK 5 clients parse chunks with strict schemas
// and fail the whole stream on one unknown key, so a chunk with an extra key is refused here, before
// it is stored. tests/functions/ui-message-chunk.test.ts checks that what this accepts, the SDK accepts.
// Pure (zod only): the functions (Deno) and the tests (Node) both import it.
import { z } from "zod";

/** A JSON value, as the SDK's `jsonValueSchema` has it (an object's values may be undefined). */
type JsonValue = null | string | number | boolean | { [key: string]: JsonValue | undefined } | JsonValue[];
const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.string(),
    z.number(),
    z.boolean(),
    z.record(z.string(), jsonValue.optional()),
    z.array(jsonValue),
  ])
);

/** Per provider, anything it wants to say about a part (the SDK's `providerMetadataSchema`). */
const providerMetadata = z.record(z.string(), z.record(z.string(), jsonValue.optional())).optional();
/** What the application attached to a tool (the SDK's `toolMetadataSchema`). */
const toolMetadata = z.record(z.string(), jsonValue.optional()).optional();

/** The fields every tool-call chunk may carry besides its own. */
const toolCallFields = {
  providerExecuted: z.boolean().optional(),
  providerMetadata,
  toolMetadata,
  dynamic: z.boolean().optional(),
};

/**
 * Every chunk whose `type` is a fixed word, one schema each. zod picks the schema by `type`, so a
 * problem is reported in that chunk's own fields.
 */
const fixedTypeChunk = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("text-start"), id: z.string(), providerMetadata }),
  z.strictObject({ type: z.literal("text-delta"), id: z.string(), delta: z.string(), providerMetadata }),
  z.strictObject({ type: z.literal("text-end"), id: z.string(), providerMetadata }),
  /** A failed turn or step; the stream goes on (a `finish` or `abort` closes it). */
  z.strictObject({ type: z.literal("error"), errorText: z.string() }),
  z.strictObject({
    type: z.literal("tool-input-start"),
    toolCallId: z.string(),
    toolName: z.string(),
    inputEncoding: z.enum(["json", "text"]).optional(),
    ...toolCallFields,
    title: z.string().optional(),
  }),
  z.strictObject({ type: z.literal("tool-input-delta"), toolCallId: z.string(), inputTextDelta: z.string() }),
  z.strictObject({
    type: z.literal("tool-input-available"),
    toolCallId: z.string(),
    toolName: z.string(),
    input: z.unknown(),
    ...toolCallFields,
    title: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal("tool-input-error"),
    toolCallId: z.string(),
    toolName: z.string(),
    input: z.unknown(),
    ...toolCallFields,
    errorText: z.string(),
    title: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal("tool-approval-request"),
    approvalId: z.string(),
    toolCallId: z.string(),
    approvalDescriptor: z.unknown().optional(),
    inputSchemaInput: z.unknown().optional(),
    signature: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal("tool-output-available"),
    toolCallId: z.string(),
    output: z.unknown(),
    ...toolCallFields,
    preliminary: z.boolean().optional(),
  }),
  z.strictObject({
    type: z.literal("tool-output-error"),
    toolCallId: z.string(),
    errorText: z.string(),
    ...toolCallFields,
  }),
  z.strictObject({ type: z.literal("tool-output-denied"), toolCallId: z.string() }),
  z.strictObject({ type: z.literal("reasoning-start"), id: z.string(), providerMetadata }),
  z.strictObject({ type: z.literal("reasoning-delta"), id: z.string(), delta: z.string(), providerMetadata }),
  z.strictObject({ type: z.literal("reasoning-end"), id: z.string(), providerMetadata }),
  z.strictObject({
    type: z.literal("source-url"),
    sourceId: z.string(),
    url: z.string(),
    title: z.string().optional(),
    providerMetadata,
  }),
  z.strictObject({
    type: z.literal("source-document"),
    sourceId: z.string(),
    mediaType: z.string(),
    title: z.string(),
    filename: z.string().optional(),
    providerMetadata,
  }),
  z.strictObject({ type: z.literal("file"), url: z.string(), mediaType: z.string(), providerMetadata }),
  z.strictObject({ type: z.literal("start-step") }),
  z.strictObject({ type: z.literal("finish-step") }),
  z.strictObject({
    type: z.literal("start"),
    messageId: z.string().optional(),
    messageMetadata: z.unknown().optional(),
  }),
  z.strictObject({
    type: z.literal("finish"),
    finishReason: z.enum(["stop", "length", "content-filter", "tool-calls", "error", "other"]).optional(),
    messageMetadata: z.unknown().optional(),
  }),
  z.strictObject({ type: z.literal("abort"), reason: z.string().optional() }),
  z.strictObject({ type: z.literal("message-metadata"), messageMetadata: z.unknown() }),
]);

const fixedTypes: readonly string[] = fixedTypeChunk.options.map((option) => option.shape.type.value);

/** "data-" and a name of any characters (`s`: a name may start with a line break, as the SDK allows). */
const dataType = /^data-./s;

/**
 * An application's own data part: `type` is "data-" and a name ("data-weather"). The SDK takes any
 * string starting with "data-"; a name is required here, and it is bounded so the type stays a label.
 * The check aborts, so for any other type this schema's other complaints never hide the real one.
 */
const dataChunk = z.strictObject({
  type: z.string().max(255).regex(dataType, { abort: true }),
  id: z.string().optional(),
  data: z.unknown(),
  transient: z.boolean().optional(),
});

/**
 * Words for a chunk neither schema took: an unknown type says so; otherwise the first problem of the
 * schema its type chose (`issue.errors` holds each schema's problems, in the union's order). A chunk
 * whose only problems are unknown keys never gets here: zod reports those from the schema that matched.
 */
function explainChunk(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "invalid_union") return undefined;
  const input = issue.input as { type?: unknown } | undefined;
  const type = typeof input === "object" && input !== null ? input.type : undefined;
  const [fixedTypeProblems, dataProblems] = issue.errors;
  const chosen = typeof type !== "string"
    ? undefined
    : fixedTypes.includes(type)
    ? fixedTypeProblems
    : dataType.test(type)
    ? dataProblems
    : undefined;
  const problem = chosen?.[0];
  if (problem) {
    const where = problem.path.length > 0 ? `whose ${problem.path.join(".")} ` : "that ";
    return `is a ${JSON.stringify(type)} chunk ${where}${problem.message}`;
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) return "must be an object with a type";
  const name = type === undefined ? "no type" : `an unknown type ${JSON.stringify(type)}`;
  return `has ${name}: send one of ${fixedTypes.map((t) => JSON.stringify(t)).join(", ")}, or "data-" and a name`;
}

/** One UI message stream chunk, as the AI SDK emits it, with no key it does not know. */
export const uiMessageChunk = z.union([fixedTypeChunk, dataChunk], { error: explainChunk });
export type UIMessageChunk = z.infer<typeof uiMessageChunk>;

/** Whether `chunk` ends its stream: nothing follows a `finish` or an `abort` (an `error` is not the end). */
export function closesStream(chunk: UIMessageChunk): boolean {
  return chunk.type === "finish" || chunk.type === "abort";
}
