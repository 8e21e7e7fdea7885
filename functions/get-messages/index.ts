// GET /functions/v1/get-messages?chat_id=&after_seq=&before_seq=&limit=&history_version=
// A page of a chat's messages, ascending by seq: the newest `limit` (default 50) without a cursor,
// the page after `after_seq`, or the page before `before_seq`; plus the chat, `has_more` and the
// queue. history_version reads an earlier version of the history (before an edit or a regenerate).
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { getMessagesQuery } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "get-messages",
  method: "GET",
  query: getMessagesQuery,
  async run(query, caller) {
    const { json } = await rpc(caller, "get_messages", {
      chat_id: query.chat_id,
      after_seq: query.after_seq,
      before_seq: query.before_seq,
      page_size: query.limit,
      history_version: query.history_version,
    });
    return { status: 200, json };
  },
}));
