// GET /functions/v1/get-context?chat_id= (the chat's owner, or the service role)
// The chat's pinned context resources with their bodies (what the model sees in this chat), and what
// changed in the session's live view since they were pinned: { resources, changed: { updated,
// added, removed } }, compared by content hash. Live bodies are not sent.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { getContextQuery } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "get-context",
  method: "GET",
  query: getContextQuery,
  async run(query, caller) {
    const { json } = await rpc(caller, "get_context", { chat_id: query.chat_id });
    return { status: 200, json };
  },
}));
