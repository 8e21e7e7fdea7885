// Every CHECK rejects the values it exists to reject (and accepts the valid ones).
import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/db.ts";
import { id, makeOwnedTree, uiMessage } from "../support/factories.ts";

const { sql } = await useTestDatabase();
let tree: Awaited<ReturnType<typeof makeOwnedTree>>;
beforeAll(async () => {
  tree = await makeOwnedTree(sql);
});

async function violates(constraint: string, statement: () => Promise<unknown>) {
  const error = await statement().then(() => undefined, (e) => e);
  expect(error, `expected ${constraint} to reject`).toBeDefined();
  expect(error.constraint_name ?? error.message).toBe(constraint);
}

describe("sessions", () => {
  const insert = (fields: Record<string, unknown>) =>
    sql`insert into sessions ${sql({ id: id("s"), account_id: tree.accountId, title: "t", ...fields })}`;
  it("rejects an unknown status, lifecycle state, negative counters and a non-array skill list", async () => {
    await violates("sessions_status_chk", () => insert({ status: "paused" }));
    await violates("sessions_lifecycle_state_chk", () => insert({ lifecycle_state: "sleeping" }));
    await violates("sessions_lines_chk", () => insert({ lines_added: -1 }));
    await violates("sessions_lifecycle_version_chk", () => insert({ lifecycle_version: -1 }));
    await violates("sessions_snapshot_size_bytes_chk", () => insert({ snapshot_size_bytes: -5 }));
    await violates("sessions_global_skill_refs_chk", () => insert({ global_skill_refs: sql.json({ a: 1 }) }));
    await violates("sessions_id_chk", () => insert({ id: "" }));
  });
  it("accepts every documented status and lifecycle state, and snapshots over 2 GiB", async () => {
    for (const status of ["running", "completed", "failed", "archived"]) await insert({ status });
    for (const state of ["provisioning", "active", "hibernating", "hibernated", "restoring", "archived", "failed"]) {
      await insert({ lifecycle_state: state });
    }
    await insert({ snapshot_size_bytes: 5 * 1024 ** 3 });
  });
});

describe("chat_messages", () => {
  const insert = (role: string, parts: unknown, messageId = id("m")) =>
    sql`insert into chat_messages (id, chat_id, role, parts) values (${messageId}, ${tree.chat.id}, ${role}, ${
      sql.json(parts as never)
    })`;
  it("rejects an unknown role", async () => {
    const m = id("m");
    await violates("chat_messages_role_chk", () => insert("system", { ...uiMessage(m, "user"), role: "system" }, m));
  });
  it("rejects parts that are not the UIMessage of this row", async () => {
    const m = id("m");
    await violates("chat_messages_parts_chk", () => insert("user", uiMessage("other-id", "user"), m));
    await violates("chat_messages_parts_chk", () => insert("user", uiMessage(m, "assistant"), m));
    await violates("chat_messages_parts_chk", () => insert("user", { id: m, role: "user", parts: "text" }, m));
    await violates("chat_messages_parts_chk", () => insert("user", [1, 2], m));
  });
  it("refuses to move a message to another chat or seq", async () => {
    await violates(
      "chat_messages_position_chk",
      () => sql`update chat_messages set seq = 99 where id = ${tree.message.id}`,
    );
  });
});

describe("workflow_runs", () => {
  const insert = (fields: Record<string, unknown>) =>
    sql`insert into workflow_runs ${
      sql({ id: id("r"), chat_id: tree.chat.id, started_at: "2026-01-01T00:00:00Z", ...fields })
    }`;
  it("rejects an unknown status", async () => {
    await violates(
      "workflow_runs_status_chk",
      () => insert({ status: "paused", finished_at: "2026-01-01T00:00:01Z", total_duration_ms: 1000 }),
    );
  });
  it("requires finished_at and total_duration_ms exactly when the run is no longer running", async () => {
    await violates("workflow_runs_finished_chk", () => insert({ status: "completed" }));
    await violates(
      "workflow_runs_finished_chk",
      () => insert({ finished_at: "2026-01-01T00:00:01Z", total_duration_ms: 1000 }),
    );
    await violates(
      "workflow_runs_finished_chk",
      () => insert({ status: "failed", finished_at: "2026-01-01T00:00:01Z" }),
    );
    await insert({ status: "aborted", finished_at: "2026-01-01T00:00:01Z", total_duration_ms: 1000 });
  });
  it("rejects finishing before starting and negative durations", async () => {
    await violates(
      "workflow_runs_finished_at_chk",
      () => insert({ status: "completed", finished_at: "2025-12-31T00:00:00Z", total_duration_ms: 0 }),
    );
    await violates(
      "workflow_runs_total_duration_ms_chk",
      () => insert({ status: "completed", finished_at: "2026-01-01T00:00:00Z", total_duration_ms: -1 }),
    );
  });
});

describe("workflow_run_steps", () => {
  const insert = (fields: Record<string, unknown>) =>
    sql`insert into workflow_run_steps ${
      sql({
        workflow_run_id: tree.run.id,
        step_number: 7,
        started_at: "2026-01-01T00:00:00Z",
        finished_at: "2026-01-01T00:00:01Z",
        duration_ms: 1000,
        ...fields,
      })
    }`;
  it("rejects step numbers below 1, negative durations, finishing before starting, and a repeated step", async () => {
    await violates("workflow_run_steps_step_number_chk", () => insert({ step_number: 0 }));
    await violates("workflow_run_steps_duration_ms_chk", () => insert({ duration_ms: -1 }));
    await violates("workflow_run_steps_finished_at_chk", () => insert({ finished_at: "2025-01-01T00:00:00Z" }));
    await insert({});
    await violates("workflow_run_steps_workflow_run_id_step_number_key", () => insert({}));
  });
});
