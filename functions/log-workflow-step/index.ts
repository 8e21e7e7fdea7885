// POST /functions/v1/log-workflow-step (service role only)
// { run: { id, chat_id, model_id?, started_at }, runner_id?, steps?: [...], finish?: { status, finished_at } }
// Steps into a chat a runner holds must name that runner (runner_id): 409 not_held otherwise.
// Creates the run if new, records steps once each (durations computed by the database, usage added to
// the run's, chat's, session's and account's totals), and closes the run when `finish` is present.
// A step's `usage` arrives in the AI SDK's shape; the schema hands it over as the step's columns.
// 201 when the run was created, 200 otherwise.
import type { Json } from "../../types/database.ts";
import { rpc } from "../_shared/db.ts";
import { operation } from "../_shared/operation.ts";
import { logWorkflowStepRequest } from "../_shared/schemas/mod.ts";

Deno.serve(operation({
  name: "log-workflow-step",
  request: logWorkflowStepRequest,
  serviceRoleOnly: true,
  async run(body, caller) {
    const { created, json } = await rpc(caller, "log_workflow_step", {
      run_id: body.run.id,
      chat_id: body.run.chat_id,
      model_id: body.run.model_id,
      started_at: body.run.started_at,
      steps: (body.steps ?? []) as Json,
      finish_status: body.finish?.status,
      finished_at: body.finish?.finished_at,
      runner_id: body.runner_id,
    });
    return { status: created ? 201 : 200, json };
  },
}));
