// Rows as the API returns them (to_jsonb: timestamps as ISO 8601 text, bigints as numbers).
// Each is strict (a column added or dropped fails the tests that parse real answers) and checked
// against the generated row type (`satisfies`); tests/db/row-schemas.test.ts compares its keys with
// the table's columns.
import { z } from "zod";
import type { Database, Json } from "../../../types/database.ts";
import { json, refineJson } from "./json.ts";

export type Row<T extends keyof Database["public"]["Tables"]> = Database["public"]["Tables"][T]["Row"];

export const at = z.string();
/** A jsonb column declared NOT NULL: any JSON but null. */
export const someJson = z.custom<NonNullable<Json>>((value) => value !== null && value !== undefined).superRefine(
  refineJson,
);
const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();

/** Where the agent is with a chat (04_run_control.sql's state machine). */
export const chatStatus = z.enum(["idle", "pending", "running", "stopping", "waiting", "error"]);

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
  status: chatStatus,
  last_error: nullable(z.string()),
  runner_id: nullable(z.string()),
  heartbeat_at: nullable(at),
  attempts: z.int(),
  status_changed_at: at,
  archived_at: nullable(at),
  history_version: z.int(),
  /** The session's account. */
  account_id: z.string(),
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
export type QueuedMessage = z.infer<typeof queuedMessageRow>;

/** The tables a row schema stands for: tests/db/row-schemas.test.ts keeps their keys equal to the columns. */
export const rowSchemas = {
  chats: chatRow,
  sessions: sessionRow,
  workflow_runs: workflowRunRow,
  chat_queued_messages: queuedMessageRow,
};
