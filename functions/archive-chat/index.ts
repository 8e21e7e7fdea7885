// POST /functions/v1/archive-chat (the chat's owner)
// { chat_id, archived }: archives the chat (list-chats then leaves it out unless asked, and it is
// purged once it has been archived and idle for the retention period) or restores it.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { archiveChatRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "archive-chat",
  request: archiveChatRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "archive_chat", { chat_id: body.chat_id, archived: body.archived });
    return { status: 200, json };
  },
}));
