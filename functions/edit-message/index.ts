// POST /functions/v1/edit-message { chat_id, message_id, message }
// The owner rewrites a user message (same id and seq): every later message is cut from the visible
// history (kept as an earlier branch, readable with get-messages' history_version), the queue dropped
// and returned, a turn in flight ended aborted, and the chat is pending so the agent answers again.
// An unchanged message is a retry: edited false, nothing cut.
import type { Json } from "../../types/database.ts";
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { editMessageRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "edit-message",
  request: editMessageRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "edit_message", { chat_id: body.chat_id, message: body.message as Json });
    return { status: 200, json };
  },
}));
