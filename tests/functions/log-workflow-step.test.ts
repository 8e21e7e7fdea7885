// log-workflow-step through the real Deno server, called with supabase-js as the agent backend.
import { describe, expect, it } from "vitest";
import { invoke, service, storedRow, uid, useFunctionsDatabase, userWithChat } from "../support/functions.ts";

const sql = useFunctionsDatabase();

const t = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + seconds * 1000).toISOString();
const step = (n: number, from: number, to: number, reason = "tool-calls") => ({
  step_number: n,
  started_at: t(from),
  finished_at: t(to),
  finish_reason: reason,
  raw_finish_reason: reason.replace("-", "_"),
});

describe("log-workflow-step", () => {
  it("records a whole run in one call: run, steps with server-computed durations, finish", async () => {
    const { chatId } = await userWithChat();
    const runId = uid("run");
    const { status, body } = await invoke(service, "log-workflow-step", {
      run: { id: runId, chat_id: chatId, model_id: "m", started_at: t(0) },
      steps: [step(1, 0, 1.5), step(2, 1.5, 3.25, "stop")],
      finish: { status: "completed", finished_at: t(3.25) },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      created: true,
      run: { id: runId, status: "completed", total_duration_ms: 3250 },
      steps: [{ step_number: 1, recorded: true }, { step_number: 2, recorded: true }],
    });
    expect(body.run).toEqual(await storedRow(sql, "workflow_runs", runId));
    const steps = await sql`
      select step_number, duration_ms::int as duration_ms, finish_reason from workflow_run_steps where workflow_run_id = ${runId}
       order by step_number`;
    expect(steps).toEqual([
      { step_number: 1, duration_ms: 1500, finish_reason: "tool-calls" },
      { step_number: 2, duration_ms: 1750, finish_reason: "stop" },
    ]);
  });

  it("records one step at a time while the run goes; a step already recorded is reported, not duplicated", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: t(0) };
    const first = await invoke(service, "log-workflow-step", { run, steps: [step(1, 0, 1)] });
    expect(first).toMatchObject({ status: 201, body: { run: { status: "running", total_duration_ms: null } } });
    const again = await invoke(service, "log-workflow-step", { run, steps: [step(1, 0, 1), step(2, 1, 2)] });
    expect(again.status).toBe(200);
    expect(again.body.steps).toEqual([{ step_number: 1, recorded: false }, { step_number: 2, recorded: true }]);
    const [{ n }] = await sql`select count(*)::int as n from workflow_run_steps where workflow_run_id = ${run.id}`;
    expect(n).toBe(2);
  });

  it("a finished run never runs again; the same finish is idempotent, a different one is a conflict (409)", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: t(0) };
    await invoke(service, "log-workflow-step", { run, finish: { status: "aborted", finished_at: t(5) } });
    const same = await invoke(service, "log-workflow-step", {
      run,
      finish: { status: "aborted", finished_at: t(5) },
    });
    expect(same).toMatchObject({ status: 200, body: { run: { status: "aborted" } } });
    const different = await invoke(service, "log-workflow-step", {
      run,
      finish: { status: "completed", finished_at: t(6) },
    });
    expect(different.status).toBe(409);
    const stepAfter = await invoke(service, "log-workflow-step", { run, steps: [step(1, 0, 1)] });
    expect(stepAfter.body.run.status).toBe("aborted");
    const [row] =
      await sql`select status, total_duration_ms::int as total_duration_ms from workflow_runs where id = ${run.id}`;
    expect(row).toEqual({ status: "aborted", total_duration_ms: 5000 });
  });

  it("a run finished concurrently with two statuses ends in exactly one; the other call gets 409", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: t(0) };
    await invoke(service, "log-workflow-step", { run });
    const results = await Promise.all(
      (["completed", "failed"] as const).map((status) =>
        invoke(service, "log-workflow-step", { run, finish: { status, finished_at: t(2) } })
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  it("finishing before the start is refused (400) and writes nothing", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: t(10) };
    const { status, body } = await invoke(service, "log-workflow-step", {
      run,
      finish: { status: "completed", finished_at: t(5) },
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { code: "invalid_request" } });
    expect((await sql`select 1 from workflow_runs where id = ${run.id}`).length).toBe(0);
    // Also when the stored run started later than this call claims.
    await invoke(service, "log-workflow-step", { run });
    const stale = await invoke(service, "log-workflow-step", {
      run: { ...run, started_at: t(0) },
      finish: { status: "completed", finished_at: t(5) },
    });
    expect(stale.status).toBe(400);
    expect((await sql`select status from workflow_runs where id = ${run.id}`)[0].status).toBe("running");
  });

  it("a step that ends before it starts is refused (400) with nothing written", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: t(0) };
    const { status } = await invoke(service, "log-workflow-step", { run, steps: [step(1, 0, 1), step(2, 3, 2)] });
    expect(status).toBe(400);
    expect((await sql`select 1 from workflow_runs where id = ${run.id}`).length).toBe(0);
  });

  it("releases the chat's lease and ends its turn when the run that holds it finishes", async () => {
    const { chatId } = await userWithChat();
    const run = { id: uid("run"), chat_id: chatId, started_at: t(0) };
    await invoke(service, "log-workflow-step", { run });
    await sql`update chats set status = 'running', runner_id = 'worker', heartbeat_at = now(), active_stream_id = ${run.id}
               where id = ${chatId}`;
    await invoke(service, "log-workflow-step", { run, finish: { status: "completed", finished_at: t(1) } });
    const [chat] = await sql`select status, active_stream_id, runner_id from chats where id = ${chatId}`;
    expect(chat).toEqual({ status: "idle", active_stream_id: null, runner_id: null });
  });

  it("an unknown chat is not found (404); a run id used by another chat is a conflict (409)", async () => {
    const { chatId } = await userWithChat();
    const other = await userWithChat();
    const missing = await invoke(service, "log-workflow-step", {
      run: { id: uid("run"), chat_id: "no-such-chat", started_at: t(0) },
    });
    expect(missing.status).toBe(404);
    const run = { id: uid("run"), chat_id: chatId, started_at: t(0) };
    await invoke(service, "log-workflow-step", { run });
    const moved = await invoke(service, "log-workflow-step", { run: { ...run, chat_id: other.chatId } });
    expect(moved.status).toBe(409);
  });

  it("is for the service role only: a signed-in user gets 403 and writes nothing", async () => {
    const user = await userWithChat();
    const run = { id: uid("run"), chat_id: user.chatId, started_at: t(0) };
    const { status, body } = await invoke(user.client, "log-workflow-step", { run });
    expect(status).toBe(403);
    expect(body).toMatchObject({ error: { code: "forbidden" } });
    expect((await sql`select 1 from workflow_runs where id = ${run.id}`).length).toBe(0);
  });
});
