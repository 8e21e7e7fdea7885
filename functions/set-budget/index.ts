// POST /functions/v1/set-budget (service role only)
// { account_id, limit_cost_micros?, limit_total_tokens? }: sets the account's monthly limits (absent
// or null: no limit on that measure). An account at or over a limit gets no new agent turn: its user
// messages answer 402 budget_exceeded and claim-chats puts its pending chats in error.
// 200 with { budget: { period, period_start, limit_*, used_*, exceeded } }.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { setBudgetRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "set-budget",
  request: setBudgetRequest,
  serviceRoleOnly: true,
  async run(body, caller) {
    const { json } = await rpc(caller, "set_budget", {
      account_id: body.account_id,
      limit_cost_micros: body.limit_cost_micros ?? undefined,
      limit_total_tokens: body.limit_total_tokens ?? undefined,
    });
    return { status: 200, json };
  },
}));
