// A chat's token usage and cost, as every chat the API returns carries it (`usage`, null before the
// agent's first step). The cost is in micro-USD, and counts only the steps whose cost was known.
import type { ChatSummary } from "./api.ts";

const count = (n: number, noun: string) => `${n.toLocaleString()} ${noun}${n === 1 ? "" : "s"}`;

export function Usage({ usage }: { usage: ChatSummary["usage"] }) {
  if (!usage) return <span className="usage">no usage yet</span>;
  const dollars = `$${(usage.cost_micros / 1_000_000).toFixed(4)}`;
  const unpriced = usage.unpriced_steps ? ` + ${count(usage.unpriced_steps, "step")} of unknown cost` : "";
  return (
    <span className="usage" data-total-tokens={usage.total_tokens}>
      {count(usage.total_tokens, "token")} ({usage.input_tokens} in, {usage.output_tokens} out),{" "}
      {count(usage.tool_calls, "tool call")}, {dollars}
      {unpriced}
    </span>
  );
}
