// Token usage: the AI SDK's LanguageModelUsage mapped to columns, usage totals, budgets.
import { z } from "zod";
import { json, queryInteger, tokenCount, uuid } from "./json.ts";

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
export function usageColumns(usage: LanguageModelUsage) {
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
