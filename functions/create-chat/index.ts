// POST /functions/v1/create-chat
// { session_id, id?, title?, model_id? }: a chat in a session the caller owns.
// { session: {...}, chat?: {...}, account_id? }: a new session and its first chat, in one transaction.
// 201 with the new chat; 200 with the existing one when the same id is retried in the same session.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { createChatRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "create-chat",
  request: createChatRequest,
  async run(body, caller) {
    const { created, json } = "session" in body
      ? await rpc(caller, "create_session_with_chat", {
        session: body.session,
        chat: body.chat ?? {},
        account_id: body.account_id,
      })
      : await rpc(caller, "create_chat", {
        session_id: body.session_id,
        id: body.id,
        title: body.title,
        model_id: body.model_id,
      });
    return { status: created ? 201 : 200, json };
  },
}));
