// Run control (claim-chats, heartbeat, stop-chat) and the timed steps of a run (log-workflow-step).
import { z } from "zod";
import { id, text, timestamp, tokenCount } from "./json.ts";
import { chatSummary } from "./reads.ts";
import { workflowRunRow } from "./rows.ts";
import { languageModelUsage, usageColumns } from "./usage.ts";

// ---------------------------------------------------------------------------------------------
// log-workflow-step
// ---------------------------------------------------------------------------------------------

const notBefore = (start: string, end: string) => Date.parse(end) >= Date.parse(start);

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
