// Request and response bodies of every function, as zod schemas. Clients import the inferred types;
// row shapes inside responses come from the generated types/database.ts, never from a copy here.
import { z } from "zod";
import type { Database, Json } from "../../types/database.ts";
import { explain } from "./validation.ts";

type Row<T extends keyof Database["public"]["Tables"]> = Database["public"]["Tables"][T]["Row"];

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/** What PostgreSQL text and jsonb can store: no NUL character, no lone UTF-16 surrogate. */
const storable = (s: string) => !s.includes("\u0000") && wellFormed(s);
// ES2024, which Deno and Node 20 have; the Node side's type check (tests import this file) targets ES2022.
const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();
const storableMessage = "must not contain NUL characters or lone surrogates";

export const text = (max = 10_000) => z.string().max(max).refine(storable, storableMessage);
export const id = text(255).min(1);
export const uuid = z.uuid();
/** An ISO 8601 time with an explicit offset, as JSON carries timestamps; PostgreSQL has no year 0. */
export const timestamp = z.iso.datetime({ offset: true }).refine(
  (time) => !(Date.parse(time) < Date.parse("0001-01-01T00:00:00Z")), // not a time at all: the format says so
  "must be a time in year 1 or later",
);

/** A whole number in a query string ("20"), where every value arrives as text. */
export const queryInteger = (min: number, max: number) =>
  z.string().regex(/^-?\d+$/, "must be a whole number, such as 20").transform(Number).pipe(z.int().min(min).max(max));

const maxDepth = 64;

/** First reason `value` cannot be stored as jsonb, with where it was found; undefined if it can. */
function jsonProblem(value: unknown, path: (string | number)[] = [], depth = 0): JsonProblem | undefined {
  if (depth > maxDepth) return { path, message: `is nested deeper than ${maxDepth} levels` };
  if (typeof value === "string") return storable(value) ? undefined : { path, message: storableMessage };
  if (typeof value === "number") {
    return Number.isFinite(value) ? undefined : { path, message: "is a number out of range" };
  }
  if (value === null || typeof value === "boolean") return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], [...path, i], depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (!storable(key)) return { path, message: "has a key with NUL characters or lone surrogates" };
      const problem = jsonProblem(item, [...path, key], depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  return { path, message: "is not a JSON value" };
}
/** Where in a JSON value it cannot be stored, and why (validation.ts's Problem is a 400's detail). */
type JsonProblem = { path: (string | number)[]; message: string };

/** Refuses what jsonb cannot store (NUL, lone surrogates, numbers out of range, nesting past 64). */
export function refineJson(value: unknown, ctx: z.RefinementCtx) {
  const problem = jsonProblem(value);
  if (problem) ctx.addIssue({ code: "custom", ...problem });
}

/** Any JSON value PostgreSQL's jsonb accepts. */
export const json = z.custom<Json>().superRefine(refineJson);

// ---------------------------------------------------------------------------------------------
// create-chat
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Rows as the API returns them (to_jsonb: timestamps as ISO 8601 text, bigints as numbers)
// ---------------------------------------------------------------------------------------------
// Each is strict (a column added or dropped fails the tests that parse real answers) and checked
// against the generated row type (`satisfies`); tests/db/row-schemas.test.ts compares its keys with
// the table's columns.

const at = z.string();
/** A jsonb column declared NOT NULL: any JSON but null. */
const someJson = z.custom<NonNullable<Json>>((value) => value !== null && value !== undefined).superRefine(refineJson);
const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();

export const chatRow = z.strictObject({
  id: z.string(),
  session_id: z.string(),
  title: z.string(),
  model_id: nullable(z.string()),
  active_stream_id: nullable(z.string()),
  last_assistant_message_at: nullable(at),
  last_message_seq: z.int(),
  created_at: at,
  updated_at: at,
  revision: z.int(),
  revision_txid: nullable(z.int()),
  status: z.enum(["idle", "pending", "running", "stopping", "error"]),
  last_error: nullable(z.string()),
  runner_id: nullable(z.string()),
  heartbeat_at: nullable(at),
  attempts: z.int(),
  status_changed_at: at,
  archived_at: nullable(at),
}) satisfies z.ZodType<Row<"chats">>;

export const sessionRow = z.strictObject({
  id: z.string(),
  account_id: z.string(),
  title: z.string(),
  status: z.string(),
  repo_owner: nullable(z.string()),
  repo_name: nullable(z.string()),
  branch: nullable(z.string()),
  clone_url: nullable(z.string()),
  is_new_branch: z.boolean(),
  auto_commit_push_override: nullable(z.boolean()),
  global_skill_refs: someJson,
  sandbox_state: nullable(json),
  lifecycle_state: nullable(z.string()),
  lifecycle_version: z.int(),
  last_activity_at: nullable(at),
  sandbox_expires_at: nullable(at),
  hibernate_after: nullable(z.string()),
  lifecycle_run_id: nullable(z.string()),
  lifecycle_error: nullable(z.string()),
  lines_added: z.int(),
  lines_removed: z.int(),
  snapshot_url: nullable(z.string()),
  snapshot_created_at: nullable(at),
  snapshot_size_bytes: nullable(z.int()),
  cached_diff: nullable(json),
  cached_diff_updated_at: nullable(at),
  created_at: at,
  updated_at: at,
}) satisfies z.ZodType<Row<"sessions">>;

export const workflowRunRow = z.strictObject({
  id: z.string(),
  chat_id: z.string(),
  model_id: nullable(z.string()),
  status: z.enum(["running", "completed", "aborted", "failed"]),
  started_at: at,
  finished_at: nullable(at),
  total_duration_ms: nullable(z.int()),
  created_at: at,
  updated_at: at,
}) satisfies z.ZodType<Row<"workflow_runs">>;

export const queuedMessageRow = z.strictObject({
  id: z.string(),
  chat_id: z.string(),
  /** The queued UIMessage. */
  message: someJson,
  /** Its place in the chat's queue, 1..20. */
  position: z.int(),
  created_at: at,
}) satisfies z.ZodType<Row<"chat_queued_messages">>;

/** The tables a row schema stands for: tests/db/row-schemas.test.ts keeps their keys equal to the columns. */
export const rowSchemas = {
  chats: chatRow,
  sessions: sessionRow,
  workflow_runs: workflowRunRow,
  chat_queued_messages: queuedMessageRow,
};

export const createChatResponse = z.strictObject({
  chat: chatRow,
  session: sessionRow.optional(),
  /** false when this was a retry of an earlier call (status 200 instead of 201). */
  created: z.boolean(),
});
export type CreateChatResponse = z.infer<typeof createChatResponse>;

// ---------------------------------------------------------------------------------------------
// append-message
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// log-workflow-step
// ---------------------------------------------------------------------------------------------

const notBefore = (start: string, end: string) => Date.parse(end) >= Date.parse(start);

/** A count that PostgreSQL's bigint holds and JSON numbers carry exactly. */
const tokenCount = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * The AI SDK's LanguageModelUsage (ai 6 and 7) as `step.usage` serialises to JSON: every count
 * optional (undefined when the provider did not report it). The SDK's deprecated duplicates
 * (`reasoningTokens`, `cachedInputTokens`) and the provider's `raw` usage are accepted so a worker
 * can send `step.usage` as it is; `raw` is not stored.
 */
export const languageModelUsage = z.strictObject({
  inputTokens: tokenCount.optional(),
  inputTokenDetails: z.strictObject({
    noCacheTokens: tokenCount.optional(),
    cacheReadTokens: tokenCount.optional(),
    cacheWriteTokens: tokenCount.optional(),
  }).optional(),
  outputTokens: tokenCount.optional(),
  outputTokenDetails: z.strictObject({
    textTokens: tokenCount.optional(),
    reasoningTokens: tokenCount.optional(),
  }).optional(),
  totalTokens: tokenCount.optional(),
  reasoningTokens: tokenCount.optional(),
  cachedInputTokens: tokenCount.optional(),
  raw: json.optional(),
});
export type LanguageModelUsage = z.infer<typeof languageModelUsage>;

/**
 * The usage as workflow_run_steps columns. The mapping lives here, at the HTTP edge, so the SQL API
 * stays "a step is a row" (log_workflow_step stores each key in the column of that name, for
 * supabase.rpc callers too) and knows nothing of an SDK's naming. totalTokens, when absent, is what
 * the SDK itself computes: input + output, if either is known.
 */
function usageColumns(usage: LanguageModelUsage) {
  const { inputTokens, outputTokens } = usage;
  return {
    input_tokens: inputTokens,
    no_cache_tokens: usage.inputTokenDetails?.noCacheTokens,
    cache_read_tokens: usage.inputTokenDetails?.cacheReadTokens ?? usage.cachedInputTokens,
    cache_write_tokens: usage.inputTokenDetails?.cacheWriteTokens,
    output_tokens: outputTokens,
    text_tokens: usage.outputTokenDetails?.textTokens,
    reasoning_tokens: usage.outputTokenDetails?.reasoningTokens ?? usage.reasoningTokens,
    total_tokens: usage.totalTokens ??
      (inputTokens === undefined && outputTokens === undefined ? undefined : (inputTokens ?? 0) + (outputTokens ?? 0)),
  };
}

export const workflowStep = z.strictObject({
  step_number: z.int().min(1).max(2_147_483_647),
  started_at: timestamp,
  finished_at: timestamp,
  finish_reason: text(255).optional(),
  raw_finish_reason: text(1000).optional(),
  usage: languageModelUsage.optional(),
  provider: text(255).min(1).optional(),
  model_id: text(255).min(1).optional(),
  /** A turn with subagents logs their model calls as steps with agent_type "subagent". */
  agent_type: z.enum(["main", "subagent"]).default("main"),
  tool_call_count: tokenCount.optional(),
  /** Integer micro-USD (1 USD = 1,000,000), e.g. from the AI Gateway's provider metadata. Absent when unknown. */
  cost_micros: tokenCount.optional(),
}).refine((step) => notBefore(step.started_at, step.finished_at), {
  message: "must not be before the step's started_at",
  path: ["finished_at"],
}).transform(({ usage, ...step }) => ({ ...step, ...(usage ? usageColumns(usage) : {}) }));

export const logWorkflowStepRequest = z.strictObject({
  /** started_at creates the run; it may be left out for a run that exists (a claimed one). */
  run: z.strictObject({ id, chat_id: id, model_id: text(255).optional(), started_at: timestamp.optional() }),
  /** The worker holding the chat: steps into a chat a runner holds must name it (409 not_held otherwise). */
  runner_id: id.optional(),
  steps: z.array(workflowStep).max(1000).optional(),
  finish: z.strictObject({
    status: z.enum(["completed", "aborted", "failed"]),
    finished_at: timestamp,
  }).optional(),
}).refine((body) => !body.finish || !body.run.started_at || notBefore(body.run.started_at, body.finish.finished_at), {
  message: "must not be before run.started_at",
  path: ["finish", "finished_at"],
});
/** What a client sends (the steps' usage in the AI SDK's shape); the functions see the parsed columns. */
export type LogWorkflowStepRequest = z.input<typeof logWorkflowStepRequest>;

export const logWorkflowStepResponse = z.strictObject({
  run: workflowRunRow,
  /** true when this call created the run (status 201). */
  created: z.boolean(),
  /** Each step of the request, and whether this call recorded it (false: it already was). */
  steps: z.array(z.strictObject({ step_number: z.int(), recorded: z.boolean() })),
});
export type LogWorkflowStepResponse = z.infer<typeof logWorkflowStepResponse>;

// ---------------------------------------------------------------------------------------------
// Usage and budgets
// ---------------------------------------------------------------------------------------------

/** A usage total: the measures of private.usage_totals in SQL. */
export const usageTotals = z.strictObject({
  input_tokens: z.number().int(),
  cache_read_tokens: z.number().int(),
  cache_write_tokens: z.number().int(),
  output_tokens: z.number().int(),
  reasoning_tokens: z.number().int(),
  total_tokens: z.number().int(),
  tool_calls: z.number().int(),
  /** Micro-USD of the steps whose cost was known: a lower bound while unpriced_steps > 0. */
  cost_micros: z.number().int(),
  unpriced_steps: z.number().int(),
  steps: z.number().int(),
  turns: z.number().int(),
});
export type UsageTotals = z.infer<typeof usageTotals>;

/** An account's budget and its use this period (private.budget_status in SQL). */
export const budgetStatus = z.strictObject({
  period: z.literal("month"),
  period_start: z.string(),
  limit_cost_micros: z.number().int().nullable(),
  used_cost_micros: z.number().int(),
  limit_total_tokens: z.number().int().nullable(),
  used_total_tokens: z.number().int(),
  /** At or over a limit: the account gets no new agent turn. */
  exceeded: z.boolean(),
});
export type BudgetStatus = z.infer<typeof budgetStatus>;

export const setBudgetRequest = z.strictObject({
  account_id: uuid,
  /** Micro-USD per UTC month; null or absent: no limit on cost. */
  limit_cost_micros: tokenCount.nullable().optional(),
  /** total_tokens per UTC month; null or absent: no limit on tokens. */
  limit_total_tokens: tokenCount.nullable().optional(),
});
export type SetBudgetRequest = z.infer<typeof setBudgetRequest>;

export const setBudgetResponse = z.strictObject({ budget: budgetStatus });
export type SetBudgetResponse = z.infer<typeof setBudgetResponse>;

/** A calendar date, as the usage query's from and to (UTC days). */
const day = z.iso.date();

export const usageQuery = z.strictObject({
  /** First UTC day (default: the first of the current month); for group_by day and model. */
  from: day.optional(),
  /** Last UTC day, inclusive (default: today). */
  to: day.optional(),
  group_by: z.enum(["day", "model", "session", "chat"]).default("day"),
  /** For group_by session and chat: how many of the most expensive (1..200, default 100). */
  limit: queryInteger(1, 200).optional(),
  /** Service role only (and required for it): whose usage. */
  account_id: uuid.optional(),
}).refine((query) => !query.from || !query.to || query.from <= query.to, {
  message: "must not be after to",
  path: ["from"],
});

export const usageResponse = z.strictObject({
  group_by: z.enum(["day", "model", "session", "chat"]),
  from: z.string().nullable(),
  to: z.string().nullable(),
  /** key: the UTC day (YYYY-MM-DD), the model id (null: not reported), the session id or the chat id. */
  rows: z.array(usageTotals.extend({ key: z.string().nullable() })),
  /** group_by session or chat: more rows exist beyond limit. */
  has_more: z.boolean(),
  budget: budgetStatus.nullable(),
});
export type UsageResponse = z.infer<typeof usageResponse>;

// ---------------------------------------------------------------------------------------------
// Reads: list-sessions, list-chats, get-messages, follow-chat (GET, query-string parameters)
// ---------------------------------------------------------------------------------------------

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
  /** Run control: idle, pending, running, stopping or error (last_error says why). */
  status: z.enum(["idle", "pending", "running", "stopping", "error"]),
  last_error: z.string().nullable(),
  status_changed_at: z.string(),
  /** The workflow run holding the chat while it is running or stopping. */
  active_stream_id: z.string().nullable(),
  revision: z.number().int(),
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
});
export type GetMessagesResponse = z.infer<typeof getMessagesResponse>;

// ---------------------------------------------------------------------------------------------
// Context resources: push-context, pin-context, get-context
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// archive-chat
// ---------------------------------------------------------------------------------------------

export const archiveChatRequest = z.strictObject({ chat_id: id, archived: z.boolean() });
export type ArchiveChatRequest = z.infer<typeof archiveChatRequest>;

export const archiveChatResponse = z.strictObject({ chat: chatSummary });
export type ArchiveChatResponse = z.infer<typeof archiveChatResponse>;

// ---------------------------------------------------------------------------------------------
// Run control: claim-chats, heartbeat (service role), stop-chat
// ---------------------------------------------------------------------------------------------

const chatIds = z.array(id).min(1).max(100);

export const claimChatsRequest = z.strictObject({
  /** The worker's stable name: it heartbeats with it. */
  runner_id: id,
  /** How many chats to take at most (1..20, default 1). */
  limit: z.int().min(1).max(20).optional(),
  /** Only these chats, if pending (a worker woken for one chat claims that chat). */
  chat_ids: chatIds.optional(),
  /** Only chats of these models (null: a chat without a model): a worker takes the chats of the models it runs. */
  models: z.array(text(255).min(1).nullable()).min(1).max(100).optional(),
});
export type ClaimChatsRequest = z.infer<typeof claimChatsRequest>;

export const claimChatsResponse = z.strictObject({
  claims: z.array(z.strictObject({ chat: chatSummary, run: workflowRunRow })),
});
export type ClaimChatsResponse = z.infer<typeof claimChatsResponse>;

export const heartbeatRequest = z.strictObject({ runner_id: id, chat_ids: chatIds });
export type HeartbeatRequest = z.infer<typeof heartbeatRequest>;

export const heartbeatResponse = z.strictObject({ held: z.array(z.string()), stop: z.array(z.string()) });
export type HeartbeatResponse = z.infer<typeof heartbeatResponse>;

export const stopChatRequest = z.strictObject({ chat_id: id });
export const stopChatResponse = z.strictObject({ chat: chatSummary });
export type StopChatResponse = z.infer<typeof stopChatResponse>;
