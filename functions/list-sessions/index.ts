// GET /functions/v1/list-sessions?limit=&cursor=[&account_id=]
// The caller's sessions, newest activity first, each with chat_count, has_unread and has_streaming;
// `next_cursor` fetches the next page. The service role names the account (account_id).
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { listSessionsQuery } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "list-sessions",
  method: "GET",
  query: listSessionsQuery,
  async run(query, caller) {
    const { json } = await rpc(caller, "list_sessions", {
      account_id: query.account_id,
      page_size: query.limit,
      page_cursor: query.cursor,
    });
    return { status: 200, json };
  },
}));
