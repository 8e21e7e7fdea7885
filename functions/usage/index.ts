// GET /functions/v1/usage?from=&to=&group_by=day|model|session|chat&limit=&account_id=
// The caller's token usage and cost: by UTC day or by model over from..to (default: this month to
// today), or the all-time totals of their most expensive sessions or chats; with the account's budget
// and how much of it is used. The service role names account_id.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { usageQuery } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "usage",
  method: "GET",
  query: usageQuery,
  async run(query, caller) {
    const { json } = await rpc(caller, "get_usage", {
      account_id: query.account_id,
      from_day: query.from,
      to_day: query.to,
      group_by: query.group_by,
      page_size: query.limit,
    });
    return { status: 200, json };
  },
}));
