// POST /functions/v1/claim-chats (service role) { runner_id, limit? (1..20), chat_ids?, models? }
// Recovers chats whose worker stopped heartbeating (older than STALE_AFTER), then hands this runner
// the oldest pending chats (or those of chat_ids that are pending), each held by a new workflow run
// (and denies the tool approvals a chat has waited on for longer than APPROVAL_TIMEOUT):
// { claims: [{ chat, run }] }, empty when there is nothing to do. Also deletes live streams closed more
// than STREAM_KEEP_SECONDS ago.
import { config } from "../_shared/config.ts";
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { claimChatsRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "claim-chats",
  request: claimChatsRequest,
  serviceRoleOnly: true,
  async run(body, caller) {
    const { json } = await rpc(caller, "claim_chats", {
      runner_id: body.runner_id,
      max_chats: body.limit,
      chat_ids: body.chat_ids,
      stale_after: `${config.staleAfter.ms} milliseconds`,
      stream_keep: `${config.streamKeepSeconds} seconds`,
      // A chat without a model is '' in SQL's list.
      model_ids: body.models?.map((model) => model ?? ""),
      approval_timeout: `${config.approvalTimeout.ms} milliseconds`,
    });
    return { status: 200, json };
  },
}));
