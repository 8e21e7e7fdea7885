// POST /functions/v1/regenerate { chat_id, message_id? }
// A new answer to the last user message (or to the user message message_id, or to the one before
// the assistant message message_id): the answers after it are cut (kept as an earlier branch), a
// turn in flight ended aborted, the queue dropped and returned, and the chat is pending.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { regenerateRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "regenerate",
  request: regenerateRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "regenerate", { chat_id: body.chat_id, message_id: body.message_id });
    return { status: 200, json };
  },
}));
