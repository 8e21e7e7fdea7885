// POST /functions/v1/stop-chat { chat_id }
// The user presses stop: a running chat becomes stopping (its worker ends the turn on its next
// heartbeat), a pending one idle; otherwise nothing changes. Returns { chat }.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { stopChatRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "stop-chat",
  request: stopChatRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "stop_chat", { chat_id: body.chat_id });
    return { status: 200, json };
  },
}));
