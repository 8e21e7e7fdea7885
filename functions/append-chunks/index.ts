// POST /functions/v1/append-chunks (service role) { chat_id, runner_id, message_id, from, chunks }
// The worker holding the chat forwards a batch of the assistant message's UI message stream (1..500
// chunks, each a valid AI SDK UI message chunk, no extra keys): 200 { next, stop }. `next` is where
// the next batch starts; a retried batch gets the same answer. 409 chunk_gap / chunk_conflict (with
// details.next: resend from there), not_held (the runner lost the chat), stream_closed (after finish
// or abort). `stop: true`: the user pressed stop; abort the turn now.
import type { Json } from "../../types/database.ts";
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { appendChunksRequest } from "../_shared/schemas/mod.ts";

Deno.serve(
  operation({
    name: "append-chunks",
    request: appendChunksRequest,
    serviceRoleOnly: true,
    async run(body, caller) {
      const { json } = await rpc(caller, "append_chunks", {
        chat_id: body.chat_id,
        runner_id: body.runner_id,
        message_id: body.message_id,
        from_index: body.from,
        chunks: body.chunks as Json,
      });
      return { status: 200, json };
    },
  }),
);
