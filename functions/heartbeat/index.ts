// POST /functions/v1/heartbeat (service role) { runner_id, chat_ids }
// Refreshes the lease of the chats this runner still holds: { held: [...], stop: [...] }. A chat
// missing from `held` was recovered by another worker: drop it. `stop`: the user pressed stop.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { heartbeatRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "heartbeat",
  request: heartbeatRequest,
  serviceRoleOnly: true,
  async run(body, caller) {
    const { json } = await rpc(caller, "heartbeat", { runner_id: body.runner_id, chat_ids: body.chat_ids });
    return { status: 200, json };
  },
}));
