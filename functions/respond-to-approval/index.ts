// POST /functions/v1/respond-to-approval { chat_id, message_id, approval_id, approved, reason? }
// The owner approves or denies a tool call the agent asked about (the AI SDK's tool approval): the
// part becomes approval-responded; once none is open, the chat is pending and the agent continues
// the same message, running the tool or recording the denial.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { respondToApprovalRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "respond-to-approval",
  request: respondToApprovalRequest,
  async run(body, caller) {
    const { json } = await rpc(caller, "respond_to_approval", {
      chat_id: body.chat_id,
      message_id: body.message_id,
      approval_id: body.approval_id,
      approved: body.approved,
      reason: body.reason,
    });
    return { status: 200, json };
  },
}));
