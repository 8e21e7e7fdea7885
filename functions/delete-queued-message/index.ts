// POST /functions/v1/delete-queued-message { chat_id, message_id }
// The owner takes a message out of the queue (those after it move up). Returns { chat, deleted, queued }.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { queuedMessageRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "delete-queued-message",
  request: queuedMessageRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "delete_queued_message", body);
    return { status: 200, json };
  },
}));
