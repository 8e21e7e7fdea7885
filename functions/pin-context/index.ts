// POST /functions/v1/pin-context (the chat's owner, or the service role)
// { chat_id, sources? }: copies the session's live context resources (all, or the named sources)
// into the chat, in one transaction; returns which sources were added, updated and removed.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { pinContextRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "pin-context",
  request: pinContextRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "pin_context", { chat_id: body.chat_id, sources: body.sources });
    return { status: 200, json };
  },
}));
