// POST /functions/v1/promote-queued-message { chat_id, message_id }
// The owner moves a queued message to the front: the agent answers it next. Returns { chat, queued }.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { queuedMessageRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "promote-queued-message",
  request: queuedMessageRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "promote_queued_message", body);
    return { status: 200, json };
  },
}));
