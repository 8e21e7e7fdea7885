// GET /functions/v1/list-chats?session_id=&limit=&cursor=[&include_archived=true][&account_id=]
// The caller's chats (all sessions, or one), newest activity first, with revision and has_unread;
// `next_cursor` fetches the next page. Archived chats only with include_archived. The service role
// names the account (account_id).
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { listChatsQuery } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "list-chats",
  method: "GET",
  query: listChatsQuery,
  async run(query, caller) {
    const { json } = await rpc(caller, "list_chats", {
      account_id: query.account_id,
      session_id: query.session_id,
      page_size: query.limit,
      page_cursor: query.cursor,
      include_archived: query.include_archived,
    });
    return { status: 200, json };
  },
}));
