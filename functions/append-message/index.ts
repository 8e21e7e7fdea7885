// POST /functions/v1/append-message
// { chat_id, message: UIMessage }: user messages are written once (a retry returns the stored row
// with created: false); assistant messages are replaced in place once per agent step.
// 201 when the message is new, 200 otherwise; the response carries the message's seq. A user message
// to a chat the agent is working on waits in its queue: 202 { queued: true, position } (429 past 20).
// A worker sends its runner_id: a runner that no longer holds the chat gets 409 not_held. interrupt:
// true puts a user message to a busy chat at the front of the queue and stops the agent's turn.
import type { Json } from "../../types/database.ts";
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { appendMessageRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "append-message",
  request: appendMessageRequest,
  async run(body, caller) {
    const { created, queued, json } = await rpc(caller, "append_message", {
      chat_id: body.chat_id,
      message: body.message as Json,
      runner_id: body.runner_id,
      interrupt: body.interrupt,
    });
    return { status: queued ? 202 : created ? 201 : 200, json };
  },
}));
