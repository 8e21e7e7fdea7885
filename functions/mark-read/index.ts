// POST /functions/v1/mark-read
// { chat_id, read_at?, account_id? }: moves the caller's read marker forward (never back).
// account_id is for the service role, which reads on behalf of an account.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { markReadRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "mark-read",
  request: markReadRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "mark_read", {
      chat_id: body.chat_id,
      read_at: body.read_at,
      account_id: body.account_id,
    });
    return { status: 200, json };
  },
}));
