// POST /functions/v1/push-context (service role only)
// { session_id, resources: [{ source, kind, body, status? }], replace? }: the sandbox side reports
// the session's context resources; the live view is upserted (hash and size computed by the
// database), and with replace the sources not listed are removed. A body over 2 MiB of UTF-8 is a
// 413 for the whole request: nothing is written.
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { pushContextRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "push-context",
  request: pushContextRequest,
  serviceRoleOnly: true,
  // A session's instruction files, skills and attached files in one request: 16 MiB, not the default 1.
  maxBodyBytes: 16 * 1024 * 1024,
  async run(body, caller) {
    const { json } = await rpc(caller, "push_context", {
      session_id: body.session_id,
      resources: body.resources,
      replace: body.replace,
    });
    return { status: 200, json };
  },
}));
